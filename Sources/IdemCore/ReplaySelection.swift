/// Which dead letters `idem dlq replay` and `idem dlq discard` take: given IDs or all,
/// optionally only those with one reason or of one failure group, and at most a number of
/// them.
public struct ReplaySelection: Sendable, Hashable {
    /// The message IDs asked for (as `idem dlq list` shows them); `nil` selects every
    /// dead letter.
    public var ids: Set<String>?
    /// Only dead letters with this `x-idem-reason` code, or with a code under it
    /// (`poison` also takes `poison:no-id`).
    public var reason: String?
    /// At most this many dead letters; `nil` for no limit.
    public var limit: Int?
    /// Only dead letters of this failure group (``FailureFingerprint/group``).
    public var group: String?

    /// Creates a selection.
    public init(ids: Set<String>? = nil, reason: String? = nil, limit: Int? = nil, group: String? = nil) {
        self.ids = ids
        self.reason = reason
        self.limit = limit
        self.group = group
    }

    /// Whether a dead letter with message ID `id`, reason code `reasonCode` and failure
    /// group `group` is selected (the limit aside).
    public func selects(id: String, reasonCode: String?, group: String? = nil) -> Bool {
        if let ids, !ids.contains(id) { return false }
        if let wanted = self.group, wanted != group { return false }
        if let reason {
            guard let reasonCode else { return false }
            return reasonCode == reason || reasonCode.hasPrefix(reason + ":")
        }
        return true
    }

    /// Whether `count` dead letters taken already reach the limit.
    public func isExhausted(after count: Int) -> Bool {
        limit.map { count >= $0 } ?? false
    }
}
