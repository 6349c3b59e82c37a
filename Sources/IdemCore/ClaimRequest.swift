/// One message to claim in the dedup table.
public struct ClaimRequest: Sendable, Hashable {
    /// The message's ID (scoped by the consumer the store works for).
    public var id: MessageID
    /// SHA-256 of the body, lowercase hex, kept to detect payload conflicts.
    public var payloadHash: String
    /// Where the message came from, for the `source` column.
    public var source: String

    /// Creates a request.
    public init(id: MessageID, payloadHash: String, source: String) {
        self.id = id
        self.payloadHash = payloadHash
        self.source = source
    }

    /// A request for `message` identified as `id`.
    public init(message: Message, id: MessageID) {
        self.init(
            id: id, payloadHash: IdentityChain.sha256Hex(message.body),
            source: message.source.description)
    }
}
