/// The prepared statements of one connection: SQL text → server-side statement name, with
/// least-recently-used eviction.
///
/// Names (`idem_s1`, `idem_s2`, …) are never reused on a connection, so a statement that
/// could not be deallocated yet never collides with a new one. Evicted statements wait in
/// ``pendingDeallocations`` until the connection can send `DEALLOCATE` safely.
struct PreparedStatementCache: Sendable {
    private struct Entry: Sendable {
        var name: String
        var lastUse: UInt64
    }

    /// The most statements kept prepared; 0 disables preparing.
    let capacity: Int
    private var entries: [String: Entry] = [:]
    private var clock: UInt64 = 0
    private var nextNumber = 1
    /// Names evicted from the cache whose `DEALLOCATE` has not been confirmed yet.
    private(set) var pendingDeallocations: [String] = []

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// How many statements are cached.
    var count: Int { entries.count }

    /// The current value of the use clock; entries used after it are "in use".
    var now: UInt64 { clock }

    /// The name `sql` is prepared under, marking it as just used.
    mutating func lookup(_ sql: String) -> String? {
        guard var entry = entries[sql] else { return nil }
        clock += 1
        entry.lastUse = clock
        entries[sql] = entry
        return entry.name
    }

    /// A fresh statement name.
    mutating func makeName() -> String {
        defer { nextNumber += 1 }
        return "idem_s\(nextNumber)"
    }

    /// Records that `sql` is now prepared as `name`.
    mutating func insert(_ sql: String, name: String) {
        clock += 1
        if let old = entries[sql], old.name != name {
            pendingDeallocations.append(old.name)
        }
        entries[sql] = Entry(name: name, lastUse: clock)
    }

    /// Makes room for `reserved` more entries by evicting the least recently used entries
    /// that were not used after `since`; returns whether there is room.
    mutating func makeRoom(reserved: Int, since: UInt64) -> Bool {
        while entries.count + reserved >= capacity {
            guard
                let victim = entries.filter({ $0.value.lastUse <= since })
                    .min(by: { $0.value.lastUse < $1.value.lastUse })
            else { return false }
            entries[victim.key] = nil
            pendingDeallocations.append(victim.value.name)
        }
        return true
    }

    /// Forgets `sql`; with `deallocate`, its server-side statement is deallocated later.
    mutating func remove(_ sql: String, deallocate: Bool) {
        guard let entry = entries.removeValue(forKey: sql) else { return }
        if deallocate { pendingDeallocations.append(entry.name) }
    }

    /// Forgets every statement, for when the server may have dropped them (`DISCARD ALL`,
    /// `DEALLOCATE ALL`): they are prepared again on next use, and deallocated in case
    /// they still exist.
    mutating func evictAll() {
        pendingDeallocations.append(contentsOf: entries.values.map(\.name))
        entries.removeAll()
    }

    /// Marks the deallocation of `names` as done.
    mutating func deallocated(_ names: Set<String>) {
        pendingDeallocations.removeAll { names.contains($0) }
    }
}
