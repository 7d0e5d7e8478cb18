/// Which implementation of each kernel runs. `.fast` is the one measured in Benchmarks/ (direct
/// convolution microkernels); `.blas` runs convolutions as im2col + OpenBLAS sgemm, the earlier
/// fast path kept as a measured alternative; `.reference` is the plain loop that states the
/// semantics. Tests run them all and compare (ggml's `use_ref`).
public enum KernelMode: Sendable {
    case fast
    case blas
    case reference
}
