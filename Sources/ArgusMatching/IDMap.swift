/// External ids ↔ store rows, kept in step with `TemplateStore`'s swap-with-last removal.
struct IDMap {
    private(set) var rowToID: [String] = []
    private var idToRow: [String: Int] = [:]

    var count: Int { rowToID.count }

    func row(of id: String) -> Int? { idToRow[id] }

    func id(ofRow row: Int) -> String { rowToID[row] }

    mutating func reserve(_ n: Int) {
        rowToID.reserveCapacity(n)
        idToRow.reserveCapacity(n)
    }

    /// Records `id` at the next row. - Precondition: the id is new.
    mutating func append(_ id: String) {
        precondition(idToRow[id] == nil, "id is new")
        idToRow[id] = rowToID.count
        rowToID.append(id)
    }

    /// Records `id` at the next row with a single hash. - Returns: false (and changes nothing) if the id is present.
    mutating func insert(_ id: String) -> Bool {
        if let previous = idToRow.updateValue(rowToID.count, forKey: id) {
            idToRow[id] = previous
            return false
        }
        rowToID.append(id)
        return true
    }

    /// Mirrors `TemplateStore.removeSwappingLast(row:)`.
    mutating func remove(_ id: String) -> Int? {
        guard let row = idToRow.removeValue(forKey: id) else { return nil }
        let last = rowToID.count - 1
        if row != last {
            let moved = rowToID[last]
            rowToID[row] = moved
            idToRow[moved] = row
        }
        rowToID.removeLast()
        return row
    }
}
