private import CArgusKernels

/// Allocator settings for a process that serves for days (`argus serve`); process-wide, so the
/// command that runs the server applies them, not `buildApplication`.
public enum ProcessMemory {
    /// Blocks from this size up are mapped one by one, and handed back to the system when freed.
    public static let mmapThreshold = 256 * 1024

    /// Fixes glibc's mmap threshold at `mmapThreshold`. Left alone, glibc starts at 128 KiB but
    /// raises the threshold to the largest mapped block freed so far (up to 32 MiB). An analysis
    /// frees buffers of several megabytes (decoded photos, the detector's pyramid tensors), so after
    /// the first requests those came from the analysis threads' arenas instead, where what they left
    /// between smaller blocks stayed resident: a 30-minute soak grew 6.7 % after its warm-up.
    /// Mapping them costs page faults of a few hundred microseconds per photo, against ~100 ms of
    /// analysis. Returns false when glibc refused the setting.
    @discardableResult
    public static func fixAllocatorThreshold() -> Bool {
        argus_fix_mmap_threshold(mmapThreshold) == 1
    }
}
