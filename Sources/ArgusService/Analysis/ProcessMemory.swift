private import CArgusKernels

/// Allocator settings for a process that serves for days (`argus serve`); process-wide, so the
/// command that runs the server applies them, not `buildApplication`.
public enum ProcessMemory {
    /// Blocks from this size up are mapped one by one, and handed back to the system when freed.
    public static let mmapThreshold = 4 << 20

    /// Fixes glibc's mmap threshold at `mmapThreshold`. Left alone, glibc starts at 128 KiB but
    /// raises the threshold to the largest mapped block freed so far (up to 32 MiB). An analysis
    /// frees buffers of several megabytes (decoded photos, the detector's pyramid tensors), so after
    /// the first requests those came from the analysis threads' arenas instead, where what they left
    /// between smaller blocks stayed resident: a 30-minute soak grew 6.7 % after its warm-up.
    /// Why 4 MiB: each block mapped costs its page faults at every use. With the threshold at 256 KiB
    /// or 1 MiB, `argus bench pipeline` spent 15 % more time per photo (sys time ×2.5: an analysis's
    /// 1–4 MiB blocks were mapped and unmapped each time); at 4 MiB it is as fast as glibc's default.
    /// (A `malloc_trim` every 30 s instead of a fixed threshold did not stop the creep.)
    /// Returns false when glibc refused the setting.
    @discardableResult
    public static func fixAllocatorThreshold() -> Bool {
        argus_fix_mmap_threshold(mmapThreshold) == 1
    }
}
