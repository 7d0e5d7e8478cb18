public import ArgusImaging
import Foundation

/// Cuts the aligned 150×150 face chip dlib's descriptor network expects (spec §7): the
/// 5-landmark similarity onto dlib's template with padding 0.25, an integer image pyramid for
/// large faces, and bilinear sampling with truncation. Byte-identical to dlib's `get_face_chip`.
public struct FaceAligner: Sendable {
    public static let size = 150
    public static let padding = 0.25

    /// dlib's 5-point template in unit coordinates, in the landmark predictor's part order.
    public static let template: [Point] = [
        Point(x: 0.8595674595992, y: 0.2134981538014), Point(x: 0.6460604764104, y: 0.2289674387677),
        Point(x: 0.1205750620789, y: 0.2137274526848), Point(x: 0.3340850613712, y: 0.2290642403242),
        Point(x: 0.4901123135679, y: 0.6277975316475),
    ]

    /// Where a chip lies in the image: a square rectangle and its rotation.
    public struct ChipDetails: Sendable, Equatable {
        public var rect: DRect
        public var angle: Double
    }

    public init() {}

    public func details(landmarks: [Point]) -> ChipDetails {
        precondition(landmarks.count == 5, "five landmarks")
        let size = Double(Self.size), padding = Self.padding
        let chipPoints = Self.template.map {
            Point(x: (padding + $0.x) / (2 * padding + 1) * size, y: (padding + $0.y) / (2 * padding + 1) * size)
        }
        let t = Similarity.fit(from: chipPoints, to: landmarks)
        let c = t.apply(Point(x: size / 2, y: size / 2))
        let s = size * t.scale
        let half = (s - 1) / 2
        return ChipDetails(rect: DRect(left: c.x - half, top: c.y - half, right: c.x + half, bottom: c.y + half), angle: t.angle)
    }

    public func chip(from image: RGBImage, landmarks: [Point]) -> RGBImage {
        chip(from: image, details: details(landmarks: landmarks))
    }

    /// dlib's `pyramid_down<2>` mapping of a rectangle to the next level.
    static func down(_ r: DRect) -> DRect {
        DRect(left: r.left / 2 - 1.25, top: r.top / 2 - 0.75, right: r.right / 2 - 1.25, bottom: r.bottom / 2 - 0.75)
    }

    public func chip(from image: RGBImage, details: ChipDetails) -> RGBImage {
        let rows = Self.size, cols = Self.size, n = Double(rows * cols)
        var out = RGBImage(width: cols, height: rows)
        let rect = details.rect, angle = details.angle
        guard image.width > 0, image.height > 0, rect.width.isFinite, rect.height.isFinite else { return out }

        if angle == 0 && rect.width == Double(cols) && rect.height == Double(rows) {
            // A straight copy: dlib's special case (never hit by real faces).
            let box = Box(rounding: rect)
            for y in 0..<rows {
                for x in 0..<cols {
                    let sx = box.left + x, sy = box.top + y
                    guard sx >= 0, sy >= 0, sx < image.width, sy < image.height else { continue }
                    for ch in 0..<3 { out.pixels[(y * cols + x) * 3 + ch] = image.pixels[(sy * image.width + sx) * 3 + ch] }
                }
            }
            return out
        }

        // 1. Pyramid depth, and how far the crop must reach beyond the face for the filter taps.
        var r = Self.down(rect)
        var depth = 0, grow = 2.0
        while r.area > n {
            r = Self.down(r)
            depth += 1
            grow = 2 * grow + 2
        }
        // 2. The crop: the rotated rectangle's bounding box, grown, clipped to the image.
        let cosA = cos(angle), sinA = sin(angle), centre = rect.center
        let corners = [Point(x: rect.left, y: rect.top), Point(x: rect.right, y: rect.top),
                       Point(x: rect.left, y: rect.bottom), Point(x: rect.right, y: rect.bottom)].map { p -> Point in
            let dx = p.x - centre.x, dy = p.y - centre.y
            return Point(x: centre.x + cosA * dx - sinA * dy, y: centre.y + sinA * dx + cosA * dy)
        }
        let bounds = DRect(left: corners.map(\.x).min()! - grow, top: corners.map(\.y).min()! - grow,
                           right: corners.map(\.x).max()! + grow, bottom: corners.map(\.y).max()! + grow)
        let clipped = bounds.intersection(DRect(left: 0, top: 0, right: Double(image.width - 1), bottom: Double(image.height - 1)))
        guard !clipped.isEmpty else { return out }
        let crop = Box(rounding: clipped)
        guard !crop.isEmpty else { return out }

        // 3. The integer pyramid of the crop.
        var level = Self.crop(image, to: crop)
        for _ in 0..<depth {
            guard let smaller = Self.pyramidDown(level) else { return out }
            level = smaller
        }
        // 4. The chip rectangle in the chosen level's coordinates.
        var local = DRect(left: rect.left - Double(crop.left), top: rect.top - Double(crop.top),
                          right: rect.right - Double(crop.left), bottom: rect.bottom - Double(crop.top))
        var levels = 0
        while Self.down(local).area > n {
            levels += 1
            local = Self.down(local)
        }
        precondition(levels == depth, "dlib's level rule equals the depth")

        // 5–6. Chip pixel → source point by the rotated corners; bilinear, truncated.
        let lc = local.center
        func rotated(_ x: Double, _ y: Double) -> Point {
            let dx = x - lc.x, dy = y - lc.y
            return Point(x: lc.x + cosA * dx - sinA * dy, y: lc.y + sinA * dx + cosA * dy)
        }
        let tl = rotated(local.left, local.top), tr = rotated(local.right, local.top), bl = rotated(local.left, local.bottom)
        let stepX = Point(x: (tr.x - tl.x) / Double(cols - 1), y: (tr.y - tl.y) / Double(cols - 1))
        let stepY = Point(x: (bl.x - tl.x) / Double(rows - 1), y: (bl.y - tl.y) / Double(rows - 1))
        let w = level.width, h = level.height
        level.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for row in 0..<rows {
                    for col in 0..<cols {
                        let px = tl.x + Double(col) * stepX.x + Double(row) * stepY.x
                        let py = tl.y + Double(col) * stepX.y + Double(row) * stepY.y
                        let fx0 = px.rounded(.down), fy0 = py.rounded(.down)
                        // The last row and column count as outside (dlib's interpolate_bilinear).
                        guard fx0 >= 0, fy0 >= 0, fx0 + 1 < Double(w), fy0 + 1 < Double(h) else { continue }
                        let x0 = Int(fx0), y0 = Int(fy0)
                        let fx = px - fx0, fy = py - fy0
                        let i00 = (y0 * w + x0) * 3, i10 = i00 + 3, i01 = i00 + w * 3, i11 = i01 + 3
                        let d = (row * cols + col) * 3
                        for ch in 0..<3 {
                            let v = (1 - fy) * ((1 - fx) * Double(src[i00 + ch]) + fx * Double(src[i10 + ch]))
                                + fy * ((1 - fx) * Double(src[i01 + ch]) + fx * Double(src[i11 + ch]))
                            dst[d + ch] = UInt8(max(0, min(255, v.rounded(.towardZero))))
                        }
                    }
                }
            }
        }
        return out
    }

    static func crop(_ image: RGBImage, to box: Box) -> RGBImage {
        let w = box.width, h = box.height
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        image.pixels.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    let from = ((box.top + y) * image.width + box.left) * 3
                    for i in 0..<(w * 3) { dst[y * w * 3 + i] = src[from + i] }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    /// dlib's `pyramid_down<2>` on RGB: a separable [1 4 6 4 1]² / 256 filter in exact integers,
    /// output ((H−3)/2) × ((W−3)/2); nil when either side is 8 or less.
    static func pyramidDown(_ image: RGBImage) -> RGBImage? {
        let h = image.height, w = image.width
        guard h > 8, w > 8 else { return nil }
        let oh = (h - 3) / 2, ow = (w - 3) / 2
        var horizontal = [UInt32](repeating: 0, count: h * ow * 3)
        var out = [UInt8](repeating: 0, count: oh * ow * 3)
        image.pixels.withUnsafeBufferPointer { src in
            horizontal.withUnsafeMutableBufferPointer { t in
                for y in 0..<h {
                    for x in 0..<ow {
                        for ch in 0..<3 {
                            let base = (y * w + 2 * x) * 3 + ch
                            t[(y * ow + x) * 3 + ch] = UInt32(src[base]) + 4 * UInt32(src[base + 3]) + 6 * UInt32(src[base + 6])
                                + 4 * UInt32(src[base + 9]) + UInt32(src[base + 12])
                        }
                    }
                }
            }
            horizontal.withUnsafeBufferPointer { t in
                out.withUnsafeMutableBufferPointer { dst in
                    let stride = ow * 3
                    for y in 0..<oh {
                        for i in 0..<stride {
                            let base = 2 * y * stride + i
                            let sum = t[base] + 4 * t[base + stride] + 6 * t[base + 2 * stride] + 4 * t[base + 3 * stride] + t[base + 4 * stride]
                            dst[y * stride + i] = UInt8(sum / 256)
                        }
                    }
                }
            }
        }
        return RGBImage(width: ow, height: oh, pixels: out)
    }
}
