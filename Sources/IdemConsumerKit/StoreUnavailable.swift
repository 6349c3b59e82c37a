/// A ``ConsumerSession`` ended because the dedup store did not answer; nothing of its
/// batches in flight was settled.
public struct StoreUnavailable: Error, Sendable, CustomStringConvertible {
    /// What the store or the batch said.
    public var detail: String

    /// The end of a session for `detail`.
    public init(_ detail: String = "the dedup store did not answer") {
        self.detail = detail
    }

    /// The detail.
    public var description: String { detail }
}
