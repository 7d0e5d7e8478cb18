/// One step of a network in forward order. Tags, skips and residual adds carry dlib's ids.
public enum Operation: Sendable {
    case convolution(Convolution)
    /// Per-channel `y = x·scale + shift` (a folded batch norm).
    case affine(scale: [Float], shift: [Float])
    case relu
    case pool(Pooling)
    /// Saves the current tensor under an id; the output is the input.
    case tag(Int)
    /// Replaces the current tensor by the one saved under the id.
    case skip(Int)
    /// Adds the tensor saved under the id, zero-extending either operand (spec §3.6);
    /// with `relu`, a ReLU is applied to the sum.
    case addSaved(Int, relu: Bool)
    case fullyConnected(FullyConnected)

    /// Steps that read their input without keeping or changing it (a pass's first one can read the caller's buffer).
    var readsInputOnly: Bool {
        if case .convolution = self { return true }
        return false
    }

    var name: String {
        switch self {
        case .convolution(let c): return "con \(c.filters) \(c.kernelHeight)×\(c.kernelWidth)/\(c.strideY)\(c.fusedReLU ? "+relu" : "")"
        case .affine: return "affine"
        case .relu: return "relu"
        case .pool(let p): return "\(p.kind == .max ? "max" : "avg")_pool \(p.windowHeight)×\(p.windowWidth)/\(p.strideY)"
        case .tag(let id): return "tag\(id)"
        case .skip(let id): return "skip\(id)"
        case .addSaved(let id, let relu): return "add_prev\(id)\(relu ? "+relu" : "")"
        case .fullyConnected(let fc): return "fc \(fc.inputs)→\(fc.outputs)"
        }
    }
}

extension Array where Element == Operation {
    /// Folds every affine that directly follows a convolution into it, and every ReLU that
    /// directly follows a convolution or a residual add into that step. The result computes the
    /// same function (up to Float32 rounding) in fewer passes over memory.
    public func fused() -> [Operation] {
        var out: [Operation] = []
        for op in self {
            switch (op, out.last) {
            case (.affine(let scale, let shift), .convolution(var conv)?) where !conv.fusedReLU:
                conv.fold(scale: scale, shift: shift)
                out[out.count - 1] = .convolution(conv)
            case (.relu, .convolution(var conv)?):
                conv.fuseReLU()
                out[out.count - 1] = .convolution(conv)
            case (.relu, .addSaved(let id, _)?):
                out[out.count - 1] = .addSaved(id, relu: true)
            default:
                out.append(op)
            }
        }
        return out
    }
}

extension Array where Element == Operation {
    /// Channels a Winograd layer's input is padded to a multiple of (every instruction set's vector).
    static let winogradChannelMultiple = 16

    /// Where a convolution feeds straight into one that Winograd could run (3×3 or 5×5, stride 1,
    /// "same" padding) but whose input channels do not fill whole vectors (the detector's 45), the
    /// first gets zero filters and the second zero-weighted channels up to a multiple of 16. The
    /// network computes the same values: the extra channels are exactly zero.
    func paddedForWinograd(isa: InstructionSet) -> [Operation] {
        var ops = self
        let m = Self.winogradChannelMultiple
        for i in ops.indices.dropLast() {
            guard case .convolution(let a) = ops[i], case .convolution(let b) = ops[i + 1],
                  a.filters > 1, a.filters % m != 0, a.filters == b.inChannels else { continue }
            let width = (a.filters + m - 1) / m * m
            // Only where the padded layer would then run as Winograd.
            guard DirectConvolution.winogradTakes(b.padded(filters: b.filters, inChannels: width), isa: isa) else { continue }
            ops[i] = .convolution(a.padded(filters: width, inChannels: a.inChannels))
            ops[i + 1] = .convolution(b.padded(filters: b.filters, inChannels: width))
        }
        return ops
    }
}
