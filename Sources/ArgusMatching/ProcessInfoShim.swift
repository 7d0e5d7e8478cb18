private import Glibc

/// Online processor count without pulling Foundation into the matching core.
enum ProcessInfoShim {
    static let activeProcessorCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
