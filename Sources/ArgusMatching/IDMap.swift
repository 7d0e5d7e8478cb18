/// External ids ↔ store rows, kept in step with `TemplateStore`'s swap-with-last removal.
///
/// Ids are held as `InlineID`s (24 bytes, no heap object): row → id is an array, id → row a
/// dictionary of 24-byte keys and 4-byte rows.
struct IDMap {
    private var rowToKey: [InlineID] = []
    private var keyToRow: [InlineID: UInt32] = [:]
    private var names = IDNames()

    var count: Int { rowToKey.count }

    /// All ids in row order.
    var rowToID: [String] { rowToKey.map(names.string) }

    func row(of id: String) -> Int? {
        guard let key = names.existingKey(id) else { return nil }
        return keyToRow[key].map(Int.init)
    }

    func id(ofRow row: Int) -> String { names.string(rowToKey[row]) }

    mutating func reserve(_ n: Int) {
        rowToKey.reserveCapacity(n)
        keyToRow.reserveCapacity(n)
    }

    /// Gives back spare capacity (after a bulk load): the dictionary is rebuilt at its smallest size.
    mutating func shrinkToFit() {
        guard rowToKey.capacity - rowToKey.count > rowToKey.capacity / 8 || keyToRow.capacity > 2 * keyToRow.count + 64 else { return }
        rowToKey = rowToKey.withUnsafeBufferPointer { Array($0) }
        var compact = [InlineID: UInt32](minimumCapacity: keyToRow.count)
        for (row, key) in rowToKey.enumerated() { compact[key] = UInt32(row) }
        keyToRow = compact
    }

    /// Records `id` at the next row. - Precondition: the id is new.
    mutating func append(_ id: String) {
        precondition(insert(id), "id is new")
    }

    /// Records `id` at the next row with a single hash. - Returns: false (and changes nothing) if the id is present.
    mutating func insert(_ id: String) -> Bool {
        guard let key = names.key(id, inserting: true) else { return false }
        let row = UInt32(rowToKey.count)
        if let previous = keyToRow.updateValue(row, forKey: key) {
            keyToRow[key] = previous
            return false
        }
        rowToKey.append(key)
        return true
    }

    /// Mirrors `TemplateStore.removeSwappingLast(row:)`.
    mutating func remove(_ id: String) -> Int? {
        guard let key = names.existingKey(id), let found = keyToRow.removeValue(forKey: key) else { return nil }
        let row = Int(found)
        let last = rowToKey.count - 1
        if row != last {
            let moved = rowToKey[last]
            rowToKey[row] = moved
            keyToRow[moved] = UInt32(row)
        }
        rowToKey.removeLast()
        return row
    }
}
