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

    /// Scratch floats `fast` needs for this layer.
    static func scratchCount(_ conv: Convolution, outShape: Shape) -> Int {
        min(chunkRows(k: conv.k), outShape.n * outShape.pixelsPerImage) * conv.k
    }

    /// im2col over a chunk of output pixels, one `sgemm` per chunk (rows × K · K × F), then bias
    /// and ReLU while the chunk is still in cache. OpenBLAS runs single-threaded here: callers
    /// parallelise over images.
    static func fast(_ conv: Convolution, input: UnsafePointer<Float>, inShape: Shape,
                     output: UnsafeMutablePointer<Float>, outShape: Shape, scratch: UnsafeMutablePointer<Float>,
                     workspace: Workspace? = nil) {
        let c = conv.inChannels, f = conv.filters, k = conv.k
        let total = outShape.n * outShape.pixelsPerImage
        let chunk = chunkRows(k: k)
        let oh = outShape.height, ow = outShape.width
        let ih = inShape.height, iw = inShape.width
        let rowBytes = c * MemoryLayout<Float>.stride
        conv.weights.withUnsafeBufferPointer { weights in
            conv.bias.withUnsafeBufferPointer { bias in
                var first = 0
                while first < total {
                    let rows = min(chunk, total - first)
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
                    addBias(out, rows: rows, filters: f, bias: bias.baseAddress!, relu: conv.fusedReLU)
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
