extension RGBImage {
    /// Bilinear resize with pixel centres aligned (a destination pixel centre maps to
    /// `(x + 0.5) · W/w − 0.5` in the source), edges clamped, values rounded.
    /// - Precondition: `width > 0 && height > 0`.
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        precondition(newWidth > 0 && newHeight > 0, "newWidth > 0 && newHeight > 0")
        guard self.width > 0, self.height > 0 else { return RGBImage(width: newWidth, height: newHeight) }
        let sx = Double(width) / Double(newWidth), sy = Double(height) / Double(newHeight)
        let map = AffineTransform(a: sx, b: 0, c: 0, d: sy, tx: 0.5 * sx - 0.5, ty: 0.5 * sy - 0.5)
        return resampled(width: newWidth, height: newHeight, sourceFromDestination: map, clampEdges: true)
    }

    /// Affine warp into a `width × height` destination: destination pixel (x, y) takes the bilinear
    /// sample at `sourceFromDestination(x, y)` in this image; samples outside the image are black.
    public func warped(width newWidth: Int, height newHeight: Int, sourceFromDestination map: AffineTransform) -> RGBImage {
        precondition(newWidth > 0 && newHeight > 0, "newWidth > 0 && newHeight > 0")
        return resampled(width: newWidth, height: newHeight, sourceFromDestination: map, clampEdges: false)
    }

    private func resampled(width outW: Int, height outH: Int, sourceFromDestination map: AffineTransform,
                           clampEdges: Bool) -> RGBImage {
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        let w = width, h = height
        guard w > 0, h > 0 else { return RGBImage(width: outW, height: outH, pixels: out) }
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outH {
                    for x in 0..<outW {
                        var (fx, fy) = map.apply(x: Double(x), y: Double(y))
                        if clampEdges {
                            fx = min(max(fx, 0), Double(w - 1))
                            fy = min(max(fy, 0), Double(h - 1))
                        } else if !(fx > -1 && fy > -1 && fx < Double(w) && fy < Double(h)) {
                            continue  // wholly outside: stays black
                        }
                        let x0 = Int(fx.rounded(.down)), y0 = Int(fy.rounded(.down))
                        let ax = fx - Double(x0), ay = fy - Double(y0)
                        let d = (y * outW + x) * 3
                        for ch in 0..<3 {
                            // Neighbours outside the image contribute black (warp) or are clamped away (resize).
                            func sample(_ px: Int, _ py: Int) -> Double {
                                guard px >= 0, py >= 0, px < w, py < h else { return 0 }
                                return Double(src[(py * w + px) * 3 + ch])
                            }
                            let top = sample(x0, y0) * (1 - ax) + sample(x0 + 1, y0) * ax
                            let bottom = sample(x0, y0 + 1) * (1 - ax) + sample(x0 + 1, y0 + 1) * ax
                            let v = top * (1 - ay) + bottom * ay
                            dst[d + ch] = UInt8(min(max(v.rounded(), 0), 255))
                        }
                    }
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }
}
