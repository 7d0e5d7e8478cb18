/// `y[o] = Σ_i x[i] · W[i·outputs + o] (+ b[o])` over the flattened input (spec §3.5).
///
/// dlib flattens in (C, H, W) order; inputs here are NHWC, so a non-1×1 input would need its
/// rows permuted. The networks Argus runs feed the fc a 1×1 global pool, where both agree.
public struct FullyConnected: Sendable {
    public let inputs: Int
    public let outputs: Int
    /// inputs × outputs, row-major.
    public let weights: [Float]
    public let bias: [Float]?

    public init(inputs: Int, outputs: Int, weights: [Float], bias: [Float]?) {
        precondition(weights.count == inputs * outputs, "weights.count == inputs · outputs")
        precondition(bias.map { $0.count == outputs } ?? true, "bias.count == outputs")
        (self.inputs, self.outputs, self.weights, self.bias) = (inputs, outputs, weights, bias)
    }
}
