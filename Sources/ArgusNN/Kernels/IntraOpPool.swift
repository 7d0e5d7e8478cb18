internal import CArgusKernels

/// The threads one network pass splits a layer over when its batch is smaller than the cores
/// (Sources/CArgusKernels/argus_pool.h): created once per process with a thread per core; a pass
/// that finds it busy runs its layers on its own thread.
final class IntraOpPool: @unchecked Sendable {
    // @unchecked: the C pool synchronises its callers itself.
    let pointer: OpaquePointer?

    static let shared = IntraOpPool(threads: BLASThreads.cores)

    private init(threads: Int) {
        pointer = argus_pool_create(Int32(max(1, threads)))
    }

    var threads: Int { Int(argus_pool_threads(pointer)) }
}
