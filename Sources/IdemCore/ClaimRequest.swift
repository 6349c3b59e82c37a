/// One message to claim in the dedup table.
public struct ClaimRequest: Sendable, Hashable {
    /// The message itself, for the handler.
    public var message: Message
    /// The message's ID (scoped by the consumer the store works for).
    public var id: MessageID
    /// SHA-256 of the body, lowercase hex, kept to detect payload conflicts.
    public var payloadHash: String

    /// A request for `message` identified as `id`; the payload hash is computed here.
    public init(message: Message, id: MessageID) {
        self.message = message
        self.id = id
        self.payloadHash = IdentityChain.sha256Hex(message.body)
    }

    /// Where the message came from, for the `source` column.
    public var source: String { message.source.description }
}
