private import Glibc
private import CArgusBLAS

/// Online processor count without pulling Foundation into the matching core.
enum ProcessInfoShim {
    static let activeProcessorCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// Argus splits BLAS work across cores itself (by gallery rows here, by image in ArgusNN), so
/// OpenBLAS runs single-threaded inside each share; OpenBLAS 0.3.21's own threads were slower
/// on these shapes, and they spin after each call, stealing a core from the next scan.
enum SingleThreadedBLAS {
    private static let configured: Void = { openblas_set_num_threads(1) }()
    static func configure() { _ = configured }
}
