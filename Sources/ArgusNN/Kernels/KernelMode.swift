/// Which implementation of each kernel runs. `.reference` is the plain loop that states the
/// semantics; `.fast` is the one measured in Benchmarks/. Tests run both and compare (ggml's `use_ref`).
public enum KernelMode: Sendable {
    case fast
    case reference
}
