/// Pooling over NHWC with windows clipped to the input (dlib's rule: padding is never a value).
enum PoolingKernels {
    static func run(_ pool: Pooling, input: UnsafePointer<Float>, inShape: Shape,
                    output: UnsafeMutablePointer<Float>, outShape: Shape) {
        let (wh, ww) = pool.window(for: inShape)
        let c = inShape.channels
        for n in 0..<outShape.n {
            let image = input + n * inShape.countPerImage
            for oy in 0..<outShape.height {
                let y0 = max(oy * pool.strideY - pool.padY, 0), y1 = min(oy * pool.strideY - pool.padY + wh, inShape.height)
                for ox in 0..<outShape.width {
                    let x0 = max(ox * pool.strideX - pool.padX, 0), x1 = min(ox * pool.strideX - pool.padX + ww, inShape.width)
                    let o = output + ((n * outShape.height + oy) * outShape.width + ox) * c
                    let count = max(0, (y1 - y0) * (x1 - x0))
                    switch pool.kind {
                    case .max:
                        o.update(repeating: count > 0 ? -.infinity : 0, count: c)
                        for y in y0..<max(y0, y1) {
                            for x in x0..<max(x0, x1) {
                                let p = image + (y * inShape.width + x) * c
                                for j in 0..<c { o[j] = max(o[j], p[j]) }
                            }
                        }
                    case .average:
                        o.update(repeating: 0, count: c)
                        for y in y0..<max(y0, y1) {
                            for x in x0..<max(x0, x1) {
                                let p = image + (y * inShape.width + x) * c
                                for j in 0..<c { o[j] += p[j] }
                            }
                        }
                        if count > 0 {
                            let scale = 1 / Float(count)
                            for j in 0..<c { o[j] *= scale }
                        }
                    }
                }
            }
        }
    }
}
