private import CArgusBLAS
import Dispatch

/// Convolution kernels. Both read an NHWC input and write an NHWC output of `conv.outputShape`.
enum ConvolutionKernels {
    /// Direct six-deep loop: the semantics of spec §3.1, for tests.
    static func reference(_ conv: Convolution, input: UnsafePointer<Float>, inShape: Shape,
                          output: UnsafeMutablePointer<Float>, outShape: Shape) {
        let c = conv.inChannels, f = conv.filters
        for n in 0..<outShape.n {
            for oy in 0..<outShape.height {
                for ox in 0..<outShape.width {
                    let o = output + ((n * outShape.height + oy) * outShape.width + ox) * f
                    for j in 0..<f { o[j] = conv.bias[j] }
                    for u in 0..<conv.kernelHeight {
                        let iy = oy * conv.strideY - conv.padY + u
                        guard iy >= 0, iy < inShape.height else { continue }
                        for v in 0..<conv.kernelWidth {
                            let ix = ox * conv.strideX - conv.padX + v
                            guard ix >= 0, ix < inShape.width else { continue }
                            let x = input + ((n * inShape.height + iy) * inShape.width + ix) * c
                            for ch in 0..<c {
                                let row = ((u * conv.kernelWidth + v) * c + ch) * f
                                for j in 0..<f { o[j] += x[ch] * conv.weights[row + j] }
                            }
                        }
                    }
                    if conv.fusedReLU { for j in 0..<f { o[j] = max(o[j], 0) } }
                }
            }
        }
    }

    /// Output pixels per im2col chunk: the chunk (rows × K floats) stays near L2 size, and the
    /// GEMM that consumes it is still tall enough to run at full speed.
    static func chunkRows(k: Int) -> Int { max(64, min(4_096, (1 << 20) / max(1, k))) }

    /// Scratch floats `fast` needs for this layer with `workers` threads.
    static func scratchCount(_ conv: Convolution, outShape: Shape, workers: Int = 1) -> Int {
        if usesKernelToRow(conv) {
            return outShape.n * (outShape.height * conv.strideY + conv.kernelHeight) * (outShape.width * conv.strideX + conv.kernelWidth)
                * conv.kernelHeight * conv.kernelWidth * conv.filters + conv.k * conv.filters
        }
        return max(1, workers) * min(chunkRows(k: conv.k), outShape.n * outShape.pixelsPerImage) * conv.k
    }

    /// A single-filter, stride-1 convolution (the detector's 9×9 score layer) is cheaper as one GEMM
    /// against every kernel tap followed by a shifted sum than as an im2col K floats wide per pixel.
    static func usesKernelToRow(_ conv: Convolution) -> Bool {
        conv.filters == 1 && conv.strideY == 1 && conv.strideX == 1
    }

    /// The fast path. Splits the output pixels across `workers` threads when the layer is large
    /// (one big image); callers running many images pass 1 and parallelise over images instead.
    static func fast(_ conv: Convolution, input: UnsafePointer<Float>, inShape: Shape,
                     output: UnsafeMutablePointer<Float>, outShape: Shape, scratch: UnsafeMutablePointer<Float>,
                     workers: Int = 1, workspace: Workspace? = nil) {
        if usesKernelToRow(conv) {
            kernelToRow(conv, input: input, inShape: inShape, output: output, outShape: outShape, scratch: scratch, workers: workers)
            return
        }
        let total = outShape.n * outShape.pixelsPerImage
        let chunk = chunkRows(k: conv.k)
        let perWorker = min(chunk, total) * conv.k
        if workers <= 1 || total < 2 * chunk {
            im2colGEMM(conv, input: input, inShape: inShape, output: output, outShape: outShape, pixels: 0..<total,
                       scratch: scratch, workspace: workspace)
            return
        }
        nonisolated(unsafe) let x = input, y = output, s = scratch
        let convolution = conv
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let range = (total * w / workers)..<(total * (w + 1) / workers)
            im2colGEMM(convolution, input: x, inShape: inShape, output: y, outShape: outShape, pixels: range,
                       scratch: s + w * perWorker, workspace: nil)
        }
    }

    /// im2col over chunks of output pixels, one `sgemm` per chunk (rows × K · K × F), then bias
    /// and ReLU while the chunk is still in cache. OpenBLAS is single-threaded here.
    private static func im2colGEMM(_ conv: Convolution, input: UnsafePointer<Float>, inShape: Shape,
                                   output: UnsafeMutablePointer<Float>, outShape: Shape, pixels: Range<Int>,
                                   scratch: UnsafeMutablePointer<Float>, workspace: Workspace?) {
        let c = conv.inChannels, f = conv.filters, k = conv.k
        let chunk = chunkRows(k: k)
        let oh = outShape.height, ow = outShape.width
        let ih = inShape.height, iw = inShape.width
        let rowBytes = c * MemoryLayout<Float>.stride
        conv.weights.withUnsafeBufferPointer { weights in
            conv.bias.withUnsafeBufferPointer { bias in
                var first = pixels.lowerBound
                while first < pixels.upperBound {
                    let rows = min(chunk, pixels.upperBound - first)
                    // im2col: row r is output pixel (first + r); its K values are (u, v, c).
                    let t0 = workspace?.profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                    for r in 0..<rows {
                        let p = first + r
                        let n = p / (oh * ow), rem = p % (oh * ow)
                        let oy = rem / ow, ox = rem % ow
                        var dst = scratch + r * k
                        let image = input + n * ih * iw * c
                        for u in 0..<conv.kernelHeight {
                            let iy = oy * conv.strideY - conv.padY + u
                            let rowInside = iy >= 0 && iy < ih
                            let x0 = ox * conv.strideX - conv.padX
                            if rowInside && x0 >= 0 && x0 + conv.kernelWidth <= iw {
                                // The whole kernel row is inside: one contiguous run of kw·C floats.
                                let count = conv.kernelWidth * c
                                UnsafeMutableRawPointer(dst).copyMemory(
                                    from: image + (iy * iw + x0) * c, byteCount: count * MemoryLayout<Float>.stride)
                                dst += count
                                continue
                            }
                            for v in 0..<conv.kernelWidth {
                                let ix = x0 + v
                                if rowInside && ix >= 0 && ix < iw {
                                    UnsafeMutableRawPointer(dst).copyMemory(from: image + (iy * iw + ix) * c, byteCount: rowBytes)
                                } else {
                                    dst.update(repeating: 0, count: c)
                                }
                                dst += c
                            }
                        }
                    }
                    let out = output + first * f
                    let t1 = workspace?.profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(f), Int32(k), 1,
                                scratch, Int32(k), weights.baseAddress, Int32(f), 0, out, Int32(f))
                    let t2 = workspace?.profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                    if let b = bias.baseAddress { addBias(out, rows: rows, filters: f, bias: b, relu: conv.fusedReLU) }
                    if let workspace, workspace.profile != nil {
                        let t3 = DispatchTime.now().uptimeNanoseconds
                        let label = "\(conv.kernelHeight)x\(conv.kernelWidth)/\(conv.strideY) C\(conv.inChannels)→\(conv.filters)"
                        workspace.profile?["conv im2col", default: 0] += t1 - t0
                        workspace.profile?["conv gemm", default: 0] += t2 - t1
                        workspace.profile?["conv bias+relu", default: 0] += t3 - t2
                        workspace.profile?["gemm \(label)", default: 0] += t2 - t1
                    }
                    first += rows
                }
            }
        }
    }

    /// kn2row: P = input (pixels × C) · W (C × taps·F), then each output sums its taps' entries of P.
    private static func kernelToRow(_ conv: Convolution, input: UnsafePointer<Float>, inShape: Shape,
                                    output: UnsafeMutablePointer<Float>, outShape: Shape, scratch: UnsafeMutablePointer<Float>,
                                    workers: Int) {
        let c = conv.inChannels, f = conv.filters, taps = conv.kernelHeight * conv.kernelWidth
        let pixels = inShape.n * inShape.pixelsPerImage
        let columns = taps * f
        // W' [c][tap·F + f] from the K×F weights, K in (tap, c) order.
        let w = scratch
        for tap in 0..<taps {
            for ch in 0..<c {
                for j in 0..<f { w[ch * columns + tap * f + j] = conv.weights[(tap * c + ch) * f + j] }
            }
        }
        let p = scratch + c * columns
        nonisolated(unsafe) let x = input, pp = p, y = output, weightsCF = scratch
        let parts = max(1, min(workers, pixels / 1024))
        // P in row blocks, one per worker.
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let lo = pixels * part / parts, hi = pixels * (part + 1) / parts
            guard hi > lo else { return }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(hi - lo), Int32(columns), Int32(c), 1,
                        x + lo * c, Int32(c), weightsCF, Int32(columns), 0, pp + lo * columns, Int32(columns))
        }
        let oh = outShape.height, ow = outShape.width, ih = inShape.height, iw = inShape.width
        let rowsTotal = outShape.n * oh
        let convolution = conv
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, rowsTotal))) { part in
            let parts = max(1, min(workers, rowsTotal))
            for row in (rowsTotal * part / parts)..<(rowsTotal * (part + 1) / parts) {
                let n = row / oh, oy = row % oh
                for ox in 0..<ow {
                    let o = y + ((n * oh + oy) * ow + ox) * f
                    for j in 0..<f { o[j] = convolution.bias[j] }
                    for u in 0..<convolution.kernelHeight {
                        let iy = oy - convolution.padY + u
                        guard iy >= 0, iy < ih else { continue }
                        for v in 0..<convolution.kernelWidth {
                            let ix = ox - convolution.padX + v
                            guard ix >= 0, ix < iw else { continue }
                            let src = pp + ((n * ih + iy) * iw + ix) * columns + (u * convolution.kernelWidth + v) * f
                            for j in 0..<f { o[j] += src[j] }
                        }
                    }
                    if convolution.fusedReLU { for j in 0..<f { o[j] = max(o[j], 0) } }
                }
            }
        }
    }

    @inline(__always)
    static func addBias(_ out: UnsafeMutablePointer<Float>, rows: Int, filters f: Int, bias: UnsafePointer<Float>, relu: Bool) {
        if relu {
            for r in 0..<rows {
                let o = out + r * f
                for j in 0..<f { o[j] = max(o[j] + bias[j], 0) }
            }
        } else {
            for r in 0..<rows {
                let o = out + r * f
                for j in 0..<f { o[j] += bias[j] }
            }
        }
    }
}
