public import ArgusImaging

/// dlib's bilinear `resize_image`, bit-exact with its SSE code path (spec §5.2.1): the column
/// positions are a Float32 running sum in groups of four, rows are accumulated in Double, and a
/// scalar Double tail takes over before the first group that would read past the right edge.
/// RGB results are truncated; Float32 planes are blended in Float32.
public enum DlibResize {
    struct Columns {
        var left: [Int]
        var right: [Int]
        var fraction32: [Float]   // SIMD columns
        var fraction64: [Double]  // tail columns
        var simdCount: Int        // columns [0, simdCount) take the Float32 path
    }

    struct Rows {
        var top: [Int]
        var bottom: [Int]
        var fraction: [Double]
    }

    static func rows(in inRows: Int, out outRows: Int) -> Rows {
        let scale = Double(inRows - 1) / Double(max(outRows - 1, 1))
        var plan = Rows(top: [], bottom: [], fraction: [])
        plan.top.reserveCapacity(outRows)
        var y = -scale
        for _ in 0..<outRows {
            y += scale
            let top = Int(y.rounded(.down))
            plan.top.append(top)
            plan.bottom.append(min(top + 1, inRows - 1))
            plan.fraction.append(y - Double(top))
        }
        return plan
    }

    static func columns(in inCols: Int, out outCols: Int) -> Columns {
        let scale = Double(inCols - 1) / Double(max(outCols - 1, 1))
        var plan = Columns(left: [Int](repeating: 0, count: outCols), right: [Int](repeating: 0, count: outCols),
                           fraction32: [Float](repeating: 0, count: outCols), fraction64: [Double](repeating: 0, count: outCols),
                           simdCount: 0)
        let x0 = -4 * scale
        var lanes: [Float] = [Float(x0), Float(x0 + scale), Float(x0 + 2 * scale), Float(x0 + 3 * scale)]
        let step = Float(4 * scale)
        var c = 0
        while c < outCols {
            for q in 0..<4 { lanes[q] += step }
            let lv = lanes.map { Int($0.rounded(.towardZero)) }
            if lv[3] + 1 >= inCols { break }
            for q in 0..<4 where c + q < outCols {
                plan.left[c + q] = lv[q]
                plan.right[c + q] = lv[q] + 1
                plan.fraction32[c + q] = lanes[q] - Float(lv[q])
            }
            c += 4
        }
        plan.simdCount = min(c, outCols)
        var x = -scale + Double(plan.simdCount) * scale
        for cc in plan.simdCount..<outCols {
            x += scale
            let left = Int(x.rounded(.down))
            plan.left[cc] = left
            plan.right[cc] = min(left + 1, inCols - 1)
            plan.fraction64[cc] = x - Double(left)
        }
        return plan
    }

    /// Resizes an RGB image to `width × height`.
    public static func resize(_ image: RGBImage, width outW: Int, height outH: Int) -> RGBImage {
        precondition(outW > 0 && outH > 0 && image.width > 0 && image.height > 0, "non-empty sizes")
        let rp = rows(in: image.height, out: outH), cp = columns(in: image.width, out: outW)
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        let w = image.width
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for r in 0..<outH {
                    let tb = rp.fraction[r]
                    let tb32 = Float(tb), itb32 = Float(1 - tb)
                    let top = rp.top[r] * w * 3, bottom = rp.bottom[r] * w * 3
                    for c in 0..<outW {
                        let l = cp.left[c] * 3, rr = cp.right[c] * 3
                        let d = (r * outW + c) * 3
                        if c < cp.simdCount {
                            let lr = cp.fraction32[c], ilr = 1 - lr
                            let tl = itb32 * ilr, tr = itb32 * lr, bl = tb32 * ilr, br = tb32 * lr
                            for ch in 0..<3 {
                                let v = ((tl * Float(src[top + l + ch]) + tr * Float(src[top + rr + ch])) + bl * Float(src[bottom + l + ch]))
                                    + br * Float(src[bottom + rr + ch])
                                dst[d + ch] = UInt8(truncatingIfNeeded: Int(v.rounded(.towardZero)))
                            }
                        } else {
                            let lr = cp.fraction64[c]
                            for ch in 0..<3 {
                                let v = (1 - tb) * ((1 - lr) * Double(src[top + l + ch]) + lr * Double(src[top + rr + ch]))
                                    + tb * ((1 - lr) * Double(src[bottom + l + ch]) + lr * Double(src[bottom + rr + ch]))
                                dst[d + ch] = UInt8(truncatingIfNeeded: Int(v.rounded(.towardZero)))
                            }
                        }
                    }
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }

    /// Resizes a 3-channel interleaved Float32 region (`stride` floats per row) into another.
    static func resizePlanes(source: UnsafePointer<Float>, width inW: Int, height inH: Int, sourceStride: Int,
                             destination: UnsafeMutablePointer<Float>, width outW: Int, height outH: Int, destinationStride: Int,
                             rows part: Range<Int>? = nil) {
        let rp = rows(in: inH, out: outH), cp = columns(in: inW, out: outW)
        for r in part ?? 0..<outH {
            let tb = rp.fraction[r]
            let tb32 = Float(tb), itb32 = Float(1 - tb)
            let top = source + rp.top[r] * sourceStride, bottom = source + rp.bottom[r] * sourceStride
            let row = destination + r * destinationStride
            for c in 0..<outW {
                let l = cp.left[c] * 3, rr = cp.right[c] * 3
                if c < cp.simdCount {
                    let lr = cp.fraction32[c], ilr = 1 - lr
                    let tl = itb32 * ilr, tr = itb32 * lr, bl = tb32 * ilr, br = tb32 * lr
                    for ch in 0..<3 {
                        row[c * 3 + ch] = ((tl * top[l + ch] + tr * top[rr + ch]) + bl * bottom[l + ch]) + br * bottom[rr + ch]
                    }
                } else {
                    let lr = Float(cp.fraction64[c]), ilr = 1 - lr
                    for ch in 0..<3 {
                        let a = Double(ilr * top[l + ch] + lr * top[rr + ch])
                        let b = Double(ilr * bottom[l + ch] + lr * bottom[rr + ch])
                        row[c * 3 + ch] = Float((1 - tb) * a + tb * b)
                    }
                }
            }
        }
    }

    /// dlib's `pyramid_up` size for one upsampling step: (2H + 1) rows × (2W + 2) columns.
    public static func upsampledSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let right = ((Double(width - 1) + 1.25) * 2).rounded(.toNearestOrAwayFromZero)
        let bottom = ((Double(height - 1) + 0.75) * 2).rounded(.toNearestOrAwayFromZero)
        return (Int(right) + 1, Int(bottom) + 1)
    }
}
