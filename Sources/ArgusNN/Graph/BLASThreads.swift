private import CArgusBLAS
private import Glibc

/// Argus owns its parallelism: kernels split work by image or by gallery rows across cores,
/// and OpenBLAS runs single-threaded inside each share. (OpenBLAS 0.3.21's own threading ran
/// this machine's skinny convolution GEMMs slower on 2 threads than on 1.)
public enum BLASThreads {
    public static let cores: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    private static let configured: Void = {
        selectKernels()
        openblas_set_num_threads(1)
    }()

    public static func useSingleThreadedBLAS() { _ = configured }

    /// The kernel set OpenBLAS runs (its name as `openblas_get_corename` gives it).
    public static var kernels: String {
        _ = configured
        return openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    /// OpenBLAS 0.3.21 (Debian 12's) does not know CPUs newer than its release and falls back to
    /// its generic `Prescott` kernels (SSE3): on this machine's Xeon (AVX-512) that ran the
    /// detector at 640×480 in 348 ms against 110 ms with its `SkylakeX` kernels. When it has
    /// fallen back so, Argus picks the kernel set the CPU's instructions allow. `OPENBLAS_CORETYPE`
    /// set by the user is kept, and `ARGUS_BLAS_CORE` names a kernel set outright.
    private static func selectKernels() {
        if let wanted = getenv("ARGUS_BLAS_CORE").map({ String(cString: $0) }), !wanted.isEmpty {
            _ = argus_blas_force_core(wanted)
            return
        }
        guard getenv("OPENBLAS_CORETYPE") == nil, let name = openblas_get_corename(),
              String(cString: name).lowercased() == "prescott", let better = argus_blas_core_for_cpu() else { return }
        _ = argus_blas_force_core(better)
    }
}
