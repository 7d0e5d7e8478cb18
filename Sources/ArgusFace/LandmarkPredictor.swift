public import ArgusImaging
public import ArgusNN
import Foundation

/// dlib's 5-point shape predictor (an ensemble of regression trees; spec §6) on
/// `shape_predictor_5_face_landmarks.dat`. Landmarks come back as integer pixels in dlib's part
/// order: 0–1 the eye on the image's right (outer, inner), 2–3 the other eye (outer, inner),
/// 4 the base of the nose. Thread-safe.
public final class LandmarkPredictor: Sendable {
    struct Tree: Sendable {
        var idx1: [Int32]
        var idx2: [Int32]
        var thresholds: [Float]
        /// leaves × (2 · parts), row-major.
        var leaves: [Float]
    }

    struct Cascade: Sendable {
        var trees: [Tree]
        var anchors: [Int32]
        var deltas: [Float]  // (dx, dy) per feature
    }

    /// Initial shape, normalised to the box: x0, y0, x1, y1, …
    let initialShape: [Float]
    let cascades: [Cascade]
    public var partCount: Int { initialShape.count / 2 }

    public init(bytes: [UInt8]) throws(ModelFileError) {
        var r = DlibReader(bytes: bytes)
        try r.expectInt(1, "shape predictor version")
        initialShape = try r.floatColumn("initial shape")
        let parts = initialShape.count / 2
        guard parts >= 1, initialShape.count % 2 == 0 else { throw .malformed(offset: r.offset, detail: "odd initial shape") }
        let cascadeCount = try r.int("cascades", in: 1...1_000)
        var forests: [[Tree]] = []
        for _ in 0..<cascadeCount {
            let treeCount = try r.int("trees", in: 1...100_000)
            var trees: [Tree] = []
            trees.reserveCapacity(treeCount)
            for _ in 0..<treeCount {
                let splitCount = try r.int("splits", in: 1...65_535)
                var tree = Tree(idx1: [], idx2: [], thresholds: [], leaves: [])
                for _ in 0..<splitCount {
                    tree.idx1.append(Int32(try r.int("split idx1", in: 0...1_000_000)))
                    tree.idx2.append(Int32(try r.int("split idx2", in: 0...1_000_000)))
                    tree.thresholds.append(try r.float("split threshold"))
                }
                let leafCount = try r.int("leaves", in: 1...65_536)
                guard leafCount == splitCount + 1 else {
                    throw .malformed(offset: r.offset, detail: "\(leafCount) leaves for \(splitCount) splits")
                }
                for _ in 0..<leafCount {
                    let leaf = try r.floatColumn("leaf")
                    guard leaf.count == 2 * parts else { throw .malformed(offset: r.offset, detail: "leaf of \(leaf.count) values") }
                    tree.leaves += leaf
                }
                trees.append(tree)
            }
            forests.append(trees)
        }
        guard try r.int("anchor cascades", in: 0...1_000) == cascadeCount else {
            throw .malformed(offset: r.offset, detail: "anchor count differs from the cascade count")
        }
        var anchors: [[Int32]] = []
        for _ in 0..<cascadeCount {
            let n = try r.int("features", in: 0...100_000)
            var a: [Int32] = []
            for _ in 0..<n { a.append(Int32(try r.int("anchor", in: 0...(parts - 1)))) }
            anchors.append(a)
        }
        guard try r.int("delta cascades", in: 0...1_000) == cascadeCount else {
            throw .malformed(offset: r.offset, detail: "delta count differs from the cascade count")
        }
        var built: [Cascade] = []
        for k in 0..<cascadeCount {
            let n = try r.int("deltas", in: 0...100_000)
            guard n == anchors[k].count else { throw .malformed(offset: r.offset, detail: "\(n) deltas for \(anchors[k].count) anchors") }
            var d: [Float] = []
            d.reserveCapacity(2 * n)
            for _ in 0..<n {
                d.append(try r.float("delta x"))
                d.append(try r.float("delta y"))
            }
            for tree in forests[k] {
                for i in tree.idx1.indices where Int(tree.idx1[i]) >= n || Int(tree.idx2[i]) >= n {
                    throw .malformed(offset: r.offset, detail: "split refers to feature past \(n)")
                }
            }
            built.append(Cascade(trees: forests[k], anchors: anchors[k], deltas: d))
        }
        guard r.isAtEnd else { throw .trailingBytes(offset: r.offset, remaining: r.remaining) }
        cascades = built
    }

    public convenience init(models: ModelDirectory) throws(FaceAnalysisError) {
        let path = try models.require(ModelDirectory.landmarksFile)
        do {
            try self.init(bytes: try DlibReader(contentsOf: path).bytes)
        } catch {
            throw .model(error)
        }
    }

    /// The landmarks of the face in `box` (integers, in image coordinates).
    public func landmarks(in image: RGBImage, box: Box) -> [Point] {
        let w = image.width, h = image.height
        let left = Double(box.left), top = Double(box.top)
        let sx = Double(box.right - box.left), sy = Double(box.bottom - box.top)
        let parts = partCount
        let initial = (0..<parts).map { Point(x: Double(initialShape[2 * $0]), y: Double(initialShape[2 * $0 + 1])) }
        var shape = initialShape
        var features = [Float]()
        image.pixels.withUnsafeBufferPointer { px in
            for cascade in cascades {
                // Similarity from the initial shape to the current one, in Double, then Float32.
                let current = (0..<parts).map { Point(x: Double(shape[2 * $0]), y: Double(shape[2 * $0 + 1])) }
                let t = Similarity.fit(from: initial, to: current)
                let a00 = Float(t.a), a01 = Float(-t.b), a10 = Float(t.b), a11 = Float(t.a)
                // Every feature of the cascade is read before any of its trees moves the shape.
                let n = cascade.anchors.count
                features.removeAll(keepingCapacity: true)
                for j in 0..<n {
                    let anchor = Int(cascade.anchors[j])
                    let dx = cascade.deltas[2 * j], dy = cascade.deltas[2 * j + 1]
                    let ux = (a00 * dx + a01 * dy) + shape[2 * anchor]
                    let uy = (a10 * dx + a11 * dy) + shape[2 * anchor + 1]
                    let x = (Double(ux) * sx + left + 0.5).rounded(.down), y = (Double(uy) * sy + top + 0.5).rounded(.down)
                    if x >= 0, y >= 0, x < Double(w), y < Double(h) {
                        let i = (Int(y) * w + Int(x)) * 3
                        features.append(Float((UInt32(px[i]) + UInt32(px[i + 1]) + UInt32(px[i + 2])) / 3))
                    } else {
                        features.append(0)
                    }
                }
                for tree in cascade.trees {
                    var i = 0
                    let splits = tree.thresholds.count
                    while i < splits {
                        i = features[Int(tree.idx1[i])] - features[Int(tree.idx2[i])] > tree.thresholds[i] ? 2 * i + 1 : 2 * i + 2
                    }
                    let leaf = (i - splits) * 2 * parts
                    for v in 0..<(2 * parts) { shape[v] += tree.leaves[leaf + v] }
                }
            }
        }
        return (0..<parts).map { p in
            Point(x: (Double(shape[2 * p]) * sx + left + 0.5).rounded(.down), y: (Double(shape[2 * p + 1]) * sy + top + 0.5).rounded(.down))
        }
    }
}
