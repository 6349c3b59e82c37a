/// How a lease-mode claim ends, for ``DedupStore/finishLeases(consumer:_:)``.
public struct LeaseOutcome: Sendable, Hashable {
    /// What becomes of the row.
    public enum Status: String, Sendable, Hashable {
        /// The handler succeeded: the row is `done`.
        case done
        /// A transient failure: the row is `failed`, claimable again, its attempt counted.
        case failed
        /// A permanent failure or the last attempt: the row is `dead`.
        case dead
        /// The handler never ran (an earlier message of an ordered batch failed first): the row
        /// is claimable again and this claim's attempt is not counted.
        case released
    }

    /// The message ID.
    public var id: MessageID
    /// The fence of the claim; a row whose fence moved on (taken over) is left alone.
    public var fence: Int64
    /// What becomes of the row.
    public var status: Status
    /// The failure's reason (`last_error`), for `failed` and `dead`.
    public var error: String?

    /// Creates an outcome.
    public init(id: MessageID, fence: Int64, status: Status, error: String? = nil) {
        self.id = id
        self.fence = fence
        self.status = status
        self.error = error
    }
}
