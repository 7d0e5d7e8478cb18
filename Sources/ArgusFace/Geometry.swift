import Foundation

/// A point in image coordinates (pixel centres at integers), Double.
public struct Point: Sendable, Equatable, Hashable, Codable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { (self.x, self.y) = (x, y) }
}

/// An inclusive rectangle with Double corners (dlib's `drectangle`): width = right − left + 1.
public struct DRect: Sendable, Equatable {
    public var left, top, right, bottom: Double
    public init(left: Double, top: Double, right: Double, bottom: Double) {
        (self.left, self.top, self.right, self.bottom) = (left, top, right, bottom)
    }
    public var width: Double { right - left + 1 }
    public var height: Double { bottom - top + 1 }
    /// Inclusive area, 0 when empty.
    public var area: Double { (left > right || top > bottom) ? 0 : width * height }
    public var center: Point { Point(x: (left + right) / 2, y: (top + bottom) / 2) }
    public var isEmpty: Bool { left > right || top > bottom }

    public func intersection(_ o: DRect) -> DRect {
        DRect(left: max(left, o.left), top: max(top, o.top), right: min(right, o.right), bottom: min(bottom, o.bottom))
    }
}

/// An inclusive integer rectangle (dlib's `rectangle`), possibly extending past the image.
public struct Box: Sendable, Equatable, Hashable, Codable {
    public var left, top, right, bottom: Int
    public init(left: Int, top: Int, right: Int, bottom: Int) {
        (self.left, self.top, self.right, self.bottom) = (left, top, right, bottom)
    }
    public var width: Int { right - left + 1 }
    public var height: Int { bottom - top + 1 }
    public var area: Int { (left > right || top > bottom) ? 0 : width * height }
    public var isEmpty: Bool { left > right || top > bottom }

    public func intersection(_ o: Box) -> Box {
        Box(left: max(left, o.left), top: max(top, o.top), right: min(right, o.right), bottom: min(bottom, o.bottom))
    }

    /// dlib's drectangle → rectangle conversion: `lround` (half away from zero) on each side.
    public init(rounding r: DRect) {
        self.init(left: Int(r.left.rounded(.toNearestOrAwayFromZero)), top: Int(r.top.rounded(.toNearestOrAwayFromZero)),
                  right: Int(r.right.rounded(.toNearestOrAwayFromZero)), bottom: Int(r.bottom.rounded(.toNearestOrAwayFromZero)))
    }

    /// Intersection over union with inclusive pixel areas.
    public func iou(_ o: Box) -> Double {
        let i = intersection(o).area
        let u = area + o.area - i
        return u > 0 ? Double(i) / Double(u) : 0
    }
}

/// A 2-D similarity `p ↦ A·p + t` with `A = [[a, −b], [b, a]]`.
public struct Similarity: Sendable, Equatable {
    public var a, b, tx, ty: Double

    public func apply(_ p: Point) -> Point {
        Point(x: a * p.x - b * p.y + tx, y: b * p.x + a * p.y + ty)
    }

    public var angle: Double { atan2(b, a) }
    public var scale: Double { (a * a + b * b).squareRoot() }

    /// The least-squares similarity mapping `from[i]` onto `to[i]` (the closed form of Umeyama's
    /// method in 2-D, which dlib's solver matches on its landmarks; spec §6 step 1).
    public static func fit(from: [Point], to: [Point]) -> Similarity {
        precondition(from.count == to.count && !from.isEmpty, "matching, non-empty point sets")
        let n = Double(from.count)
        let fm = Point(x: from.reduce(0) { $0 + $1.x } / n, y: from.reduce(0) { $0 + $1.y } / n)
        let tm = Point(x: to.reduce(0) { $0 + $1.x } / n, y: to.reduce(0) { $0 + $1.y } / n)
        var norm = 0.0, dot = 0.0, cross = 0.0
        for (f, g) in zip(from, to) {
            let fx = f.x - fm.x, fy = f.y - fm.y, gx = g.x - tm.x, gy = g.y - tm.y
            norm += fx * fx + fy * fy
            dot += fx * gx + fy * gy
            cross += fx * gy - fy * gx
        }
        let a = norm > 0 ? dot / norm : 1, b = norm > 0 ? cross / norm : 0
        return Similarity(a: a, b: b, tx: tm.x - (a * fm.x - b * fm.y), ty: tm.y - (b * fm.x + a * fm.y))
    }
}
