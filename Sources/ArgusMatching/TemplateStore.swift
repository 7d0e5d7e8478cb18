private import Glibc
import Dispatch
private import CArgusKernels

/// Contiguous storage of templates.
///
/// Layout: `count` rows of `dimension` Float32 values, row-major, no padding between rows:
/// component j of row i is at `base[i * dimension + j]`. The buffer is 64-byte aligned and its
/// capacity grows geometrically. Rows are L2-normalised by the layers above; the store only holds
/// them. Removal moves the last row into the hole, so row numbers shift (see `removeSwappingLast`).
///
/// Not thread-safe: `Gallery` serialises writers and lets readers share it.
final class TemplateStore {
    let dimension: Int
    private(set) var count = 0
    private(set) var capacity = 0
    private(set) var base: UnsafeMutablePointer<Float>?
    /// With `keepsHalfPrecision`, a binary16 copy of every row in the same layout (rounded to
    /// nearest), which the exact two-pass search scans at half the memory traffic.
    let keepsHalfPrecision: Bool
    private(set) var half: UnsafeMutablePointer<UInt16>?

    static let alignment = 64
    static let hugePage = 2 << 20

    init(dimension: Int, capacity: Int = 0, keepsHalfPrecision: Bool = false) {
        precondition(dimension > 0, "dimension > 0")
        self.dimension = dimension
        self.keepsHalfPrecision = keepsHalfPrecision
        if capacity > 0 { reserve(capacity) }
    }

    /// Pages of a large reservation being faulted in on another thread (see `prefault`).
    private var prefaulting: DispatchGroup?

    deinit {
        prefaulting?.wait()
        free(base)
        free(half)
    }

    private static func roundedSize(bytes: Int) -> Int {
        bytes >= hugePage ? (bytes + hugePage - 1) / hugePage * hugePage : max(bytes, Self.alignment)
    }

    /// - Parameter hugePages: advise transparent huge pages now (else the caller does, later).
    private static func allocate(bytes: Int, hugePages: Bool = true) -> UnsafeMutableRawPointer {
        var raw: UnsafeMutableRawPointer?
        // Large stores sit on 2 MiB boundaries and ask for transparent huge pages: a scan then
        // walks far fewer TLB entries (measured 7% faster for a 512 MB read on this machine).
        let alignment = bytes >= hugePage ? hugePage : Self.alignment
        let size = roundedSize(bytes: bytes)
        guard posix_memalign(&raw, alignment, size) == 0, let raw else {
            fatalError("TemplateStore: cannot allocate \(bytes) bytes")
        }
        if alignment == hugePage && hugePages { _ = madvise(raw, size, MADV_HUGEPAGE) }
        return raw
    }

    /// Ensures room for `rows` rows without further allocation (exactly that many). With
    /// `prefaulting` (a bulk load from the store, which knows its size), a large reservation has its
    /// pages faulted in on another thread while rows are written: first-touch page clearing was a
    /// third of a million-face start-up.
    func reserve(_ rows: Int, prefaulting: Bool = false) {
        guard rows > capacity else { return }
        let large = prefaulting && rows * dimension * MemoryLayout<Float>.stride >= 4 * Self.hugePage
        reallocate(rows, hugePages: !large)
        if large { prefault() }
    }

    /// Faults the pages of both row buffers in on another thread, front to back in step (the
    /// writer fills both at the same row), then asks for huge pages, which the kernel's background
    /// collapsing gives them later. (Faulted in as huge pages at once they cost twice as long in
    /// a virtual machine whose host had reclaimed the memory: 1.9–2.2 s against 1.0–1.2 s for 768 MB.)
    private func prefault() {
        guard let base else { return }
        var regions = [(UnsafeMutableRawPointer(base), Self.roundedSize(bytes: capacity * dimension * MemoryLayout<Float>.stride))]
        if let half { regions.append((UnsafeMutableRawPointer(half), Self.roundedSize(bytes: capacity * dimension * 2))) }
        nonisolated(unsafe) let targets = regions
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            // MADV_POPULATE_WRITE (Linux 5.14): fault the pages in writable, as the writes would; it
            // changes no byte. Where the kernel lacks it, the writes fault them in as before.
            let steps = 64
            for step in 0..<steps {
                for (start, length) in targets {
                    let lo = length * step / steps / 4096 * 4096, hi = step == steps - 1 ? length : length * (step + 1) / steps / 4096 * 4096
                    if hi > lo { _ = madvise(start + lo, hi - lo, 23) }
                }
            }
            for (start, length) in targets { _ = madvise(start, length, MADV_HUGEPAGE) }
        }
        prefaulting = group
    }

    /// Room for `rows` rows, growing by half again at least: adding n rows in batches costs O(n)
    /// copying in all. (Growing to the exact size each batch copied the whole store each time:
    /// loading a million faces in batches of 4,096 took a minute.)
    func grow(toFit rows: Int) {
        guard rows > capacity else { return }
        reallocate(max(rows, capacity + capacity / 2, 1024))
    }

    /// Gives back the capacity beyond `count` (after a bulk load) when it is worth a copy: more
    /// than an eighth of the store.
    func shrinkToFit() {
        guard count > 0, capacity - count > capacity / 8 else { return }
        reallocate(count)
    }

    private func reallocate(_ rows: Int, hugePages: Bool = true) {
        prefaulting?.wait()
        prefaulting = nil
        let grown = Self.allocate(bytes: rows * dimension * MemoryLayout<Float>.stride, hugePages: hugePages)
            .bindMemory(to: Float.self, capacity: rows * dimension)
        if let base, count > 0 { grown.update(from: base, count: count * dimension) }
        free(base)
        base = grown
        if keepsHalfPrecision {
            let grownHalf = Self.allocate(bytes: rows * dimension * 2, hugePages: hugePages).bindMemory(to: UInt16.self, capacity: rows * dimension)
            if let half, count > 0 { grownHalf.update(from: half, count: count * dimension) }
            free(half)
            half = grownHalf
        }
        capacity = rows
    }

    /// Appends `rows` rows from a contiguous buffer (the one way rows are added).
    func appendRows(_ source: UnsafePointer<Float>, rows: Int) {
        grow(toFit: count + rows)
        guard let base else { return }
        (base + count * dimension).update(from: source, count: rows * dimension)
        if let half { argus_f32_to_f16(source, half + count * dimension, rows * dimension) }
        count += rows
    }

    /// Removes `row` in O(1) by moving the last row into it.
    /// - Returns: the former number of the moved row (`count` before removal minus 1), or nil if
    ///   `row` was the last one and nothing moved.
    func removeSwappingLast(row: Int) -> Int? {
        precondition(row >= 0 && row < count, "row >= 0 && row < count")
        let last = count - 1
        count -= 1
        guard row != last, let base else { return nil }
        (base + row * dimension).update(from: base + last * dimension, count: dimension)
        if let half { (half + row * dimension).update(from: half + last * dimension, count: dimension) }
        return last
    }

    /// Row `i` as a buffer. - Warning: do not escape the pointer past the next mutation.
    func row(_ i: Int) -> UnsafeBufferPointer<Float> {
        precondition(i >= 0 && i < count, "i >= 0 && i < count")
        return UnsafeBufferPointer(start: base.map { $0 + i * dimension }, count: dimension)
    }
}

extension TemplateStore {
    /// Declares `rows` rows, already written into reserved capacity at `base`, part of the store.
    /// Used by the file loader, which reads vectors straight into the buffer.
    func adoptRows(_ rows: Int, startingAt base: UnsafeMutablePointer<Float>) {
        precondition(base == self.base && count + rows <= capacity, "rows were written into reserved capacity")
        if let half {
            // Both cores convert: half of a 1M x 128 load was this copy.
            nonisolated(unsafe) let src = base + count * dimension, dst = half + count * dimension
            let total = rows * dimension, parts = total > 1 << 20 ? 2 : 1
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                let lo = total * p / parts, hi = total * (p + 1) / parts
                argus_f32_to_f16(src + lo, dst + lo, hi - lo)
            }
        }
        count += rows
    }
}
