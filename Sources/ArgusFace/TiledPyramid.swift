public import ArgusImaging
import Dispatch

/// dlib's tiled image pyramid (`pyramid_down<6>`, spec §5.3): every level of the image packed into
/// one tensor, so the detector network runs once and its receptive field sees the same gaps
/// between levels as dlib's.
public struct TiledPyramid: Sendable {
    /// Level rectangles in tensor coordinates, level 0 first.
    public let rects: [Box]
    public let rows: Int
    public let columns: Int

    public init(imageWidth: Int, imageHeight: Int, padding: Int = 10, outerPadding: Int = 11) {
        precondition(imageWidth > 0 && imageHeight > 0, "a non-empty image")
        var sizes = [(w: imageWidth, h: imageHeight)]
        var w = imageWidth, h = imageHeight
        while true {
            h = 5 * h / 6
            w = 5 * w / 6
            if h * w == 0 || h < 5 { break }
            sizes.append((w, h))
        }
        let totalHeight = sizes.reduce(0) { $0 + $1.h + padding } - 2 * padding
        let (w0, h0) = sizes[0]
        var height = 0, previousWidth = 0
        for (lw, lh) in sizes {
            if lw <= w0 - previousWidth - padding && (height - h0) * 2 >= totalHeight - h0 { break }
            height += lh + padding
            previousWidth = lw
        }
        height -= padding
        rows = height + 2 * outerPadding
        columns = w0 + 2 * outerPadding

        var rects: [Box] = []
        var y = outerPadding, i = 0
        while y < height + outerPadding && i < sizes.count {
            rects.append(Box(left: outerPadding, top: y, right: outerPadding + sizes[i].w - 1, bottom: y + sizes[i].h - 1))
            y += sizes[i].h + padding
            i += 1
        }
        y -= padding
        while i < sizes.count {
            let right = outerPadding + w0 - 1, bottom = y - 1
            let rect = Box(left: right - (sizes[i].w - 1), top: bottom - (sizes[i].h - 1), right: right, bottom: bottom)
            if !rects[0].intersection(rect).isEmpty { break }
            rects.append(rect)
            y -= sizes[i].h + padding
            i += 1
        }
        self.rects = rects
    }

    /// The NHWC input tensor: level 0 is `(pixel − mean) / 256`, each further level a bilinear
    /// resize of the previous one in normalised Float32; everything else is 0 (the mean colour).
    public func tensor(for image: RGBImage, mean: (r: Float, g: Float, b: Float), threads: Int = 1) -> [Float] {
        var data = [Float](repeating: 0, count: rows * columns * 3)
        let stride = columns * 3
        // Each level's rows are independent of each other (each reads the level above), so a level
        // is split by rows over the threads; every value is computed as on one thread.
        let parts = max(1, min(threads, 8))
        data.withUnsafeMutableBufferPointer { buffer in
            guard let buffer = buffer.baseAddress else { return }
            nonisolated(unsafe) let base = buffer
            let r0 = rects[0]
            image.pixels.withUnsafeBufferPointer { pixels in
                guard let pixels = pixels.baseAddress else { return }
                nonisolated(unsafe) let px = pixels
                let width = image.width, height = image.height
                Self.split(rows: height, parts: parts) { ys in
                    for y in ys {
                        let row = base + (r0.top + y) * stride + r0.left * 3
                        for x in 0..<width {
                            let s = (y * width + x) * 3
                            row[3 * x] = (Float(px[s]) - mean.r) / 256
                            row[3 * x + 1] = (Float(px[s + 1]) - mean.g) / 256
                            row[3 * x + 2] = (Float(px[s + 2]) - mean.b) / 256
                        }
                    }
                }
            }
            for i in rects.indices.dropFirst() {
                let p = rects[i - 1], q = rects[i]
                Self.split(rows: q.height, parts: parts) { ys in
                    DlibResize.resizePlanes(source: base + p.top * stride + p.left * 3, width: p.width, height: p.height,
                                            sourceStride: stride, destination: base + q.top * stride + q.left * 3,
                                            width: q.width, height: q.height, destinationStride: stride, rows: ys)
                }
            }
        }
        return data
    }

    /// Runs `body` over `parts` consecutive ranges of `rows` (on the calling thread when small).
    private static func split(rows: Int, parts: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let n = rows >= 64 ? parts : 1
        if n == 1 { return body(0..<rows) }
        DispatchQueue.concurrentPerform(iterations: n) { part in body((rows * part / n)..<(rows * (part + 1) / n)) }
    }

    /// Maps a tensor-space rectangle back to image coordinates (spec §5.4 steps 2–3): the level
    /// whose rectangle holds the centre (else the nearest), then `p·6/5 + 0.3` once per level.
    public func imageRect(fromTensor r: DRect) -> DRect {
        let cx = ((r.left + r.right) / 2 + 0.5).rounded(.down), cy = ((r.top + r.bottom) / 2 + 0.5).rounded(.down)
        var best = 0, bestDistance = Double.infinity
        for (i, rect) in rects.enumerated() {
            let (l, t, rr, b) = (Double(rect.left), Double(rect.top), Double(rect.right), Double(rect.bottom))
            if l <= cx && cx <= rr && t <= cy && cy <= b { best = i; bestDistance = -1; break }
            let nx = min(max(cx, l), rr), ny = min(max(cy, t), b)
            let d = ((nx - cx) * (nx - cx) + (ny - cy) * (ny - cy)).squareRoot()
            if d < bestDistance { bestDistance = d; best = i }
        }
        let ox = Double(rects[best].left), oy = Double(rects[best].top)
        var out = DRect(left: r.left - ox, top: r.top - oy, right: r.right - ox, bottom: r.bottom - oy)
        let ratio = 6.0 / 5.0
        for _ in 0..<best {
            out = DRect(left: out.left * ratio + 0.3, top: out.top * ratio + 0.3, right: out.right * ratio + 0.3,
                        bottom: out.bottom * ratio + 0.3)
        }
        return out
    }
}
