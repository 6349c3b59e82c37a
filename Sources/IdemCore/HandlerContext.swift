/// What a handler knows about the message it is handling, besides the message itself.
public struct HandlerContext: Sendable {
    /// The consumer's name; IDs are scoped by it.
    public var consumer: String
    /// The message's ID: pass it downstream as an idempotency key.
    public var id: MessageID
    /// The fencing token of this claim: pass it downstream so that a zombie worker's late
    /// writes can be refused.
    public var fence: Int64
    /// This attempt's number, 1-based, counted across redeliveries and workers.
    public var attempt: Int
    /// The open dedup transaction in transactional mode; `nil` in lease mode.
    public var transaction: (any HandlerTransaction)?

    /// Creates a context.
    public init(
        consumer: String, id: MessageID, fence: Int64, attempt: Int,
        transaction: (any HandlerTransaction)?
    ) {
        self.consumer = consumer
        self.id = id
        self.fence = fence
        self.attempt = attempt
        self.transaction = transaction
    }
}
