private import CArgusBLAS
private import Glibc

/// Argus owns its parallelism: kernels split work by image or by gallery rows across cores,
/// and OpenBLAS runs single-threaded inside each share. (OpenBLAS 0.3.21's own threading ran
/// this machine's skinny convolution GEMMs slower on 2 threads than on 1.)
public enum BLASThreads {
    public static let cores: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    private static let configured: Void = { openblas_set_num_threads(1) }()

    public static func useSingleThreadedBLAS() { _ = configured }
}
