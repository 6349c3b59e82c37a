/// What the `x-idem-*` headers of a dead letter say (``DeadLetterHeaders``), read back by
/// `idem dlq`. Every field is optional: a dead letter published by an older idem, or by
/// something else, may lack any of them.
public struct DeadLetterMetadata: Sendable, Hashable {
    /// `x-idem-reason`: the reason code, such as `rejected` or `poison:no-id`.
    public var reason: String?
    /// `x-idem-attempts`: handler attempts made.
    public var attempts: Int?
    /// `x-idem-source`: where the message came from (a queue's `KIND:QUEUE`, a log
    /// position's `STREAM:LANE:OFFSET`).
    public var source: String?
    /// `x-idem-first-seen`: when idem first saw the message, seconds since the Unix epoch.
    public var firstSeen: UInt64?
    /// `x-idem-dead-lettered-at`: when it was dead-lettered, seconds since the Unix epoch.
    public var deadLetteredAt: UInt64?
    /// `x-idem-last-error`: the last error, in words.
    public var lastError: String?
    /// `x-idem-consumer`: the consumer that gave up on the message.
    public var consumer: String?
    /// `x-idem-message-id`: the message ID idem derived, if it derived one.
    public var messageId: String?
    /// `x-idem-replay-id`: the replay (audit row) the message came from, when it failed
    /// again after being replayed.
    public var replayId: Int64?

    /// Creates metadata; every field defaults to absent.
    public init(
        reason: String? = nil, attempts: Int? = nil, source: String? = nil, firstSeen: UInt64? = nil,
        deadLetteredAt: UInt64? = nil, lastError: String? = nil, consumer: String? = nil, messageId: String? = nil,
        replayId: Int64? = nil
    ) {
        self.reason = reason
        self.attempts = attempts
        self.source = source
        self.firstSeen = firstSeen
        self.deadLetteredAt = deadLetteredAt
        self.lastError = lastError
        self.consumer = consumer
        self.messageId = messageId
        self.replayId = replayId
    }

    /// Reads the `x-idem-*` headers, as typed values or as text
    /// bytes, whichever the broker carries. Values of an unexpected type are treated as absent.
    public init(headers: [String: HeaderValue]) {
        func text(_ name: String) -> String? { headers[name]?.identityText }
        func number(_ name: String) -> Int64? { text(name).flatMap { Int64($0) } }
        self.init(
            reason: text(DeadLetterHeaders.reason),
            attempts: number(DeadLetterHeaders.attempts).map { Int(clamping: $0) },
            source: text(DeadLetterHeaders.source),
            firstSeen: text(DeadLetterHeaders.firstSeen).flatMap { UInt64($0) },
            deadLetteredAt: text(DeadLetterHeaders.deadLetteredAt).flatMap { UInt64($0) },
            lastError: text(DeadLetterHeaders.lastError),
            consumer: text(DeadLetterHeaders.consumer),
            messageId: text(DeadLetterHeaders.messageId).flatMap { $0.isEmpty ? nil : $0 },
            replayId: number(DeadLetterHeaders.replayId))
    }

    /// The ID the replay audit knows the message by: its message ID, or `sha256:` and the
    /// hex SHA-256 of `body` when idem derived none (a poison message).
    public func auditID(body: [UInt8]) -> String {
        messageId ?? "sha256:" + IdentityChain.sha256Hex(body)
    }

    /// The log position of `x-idem-source` when it is one (`STREAM:LANE:OFFSET`, a record
    /// of a log-style broker), or `nil`.
    public var sourcePosition: LogPosition? {
        source.flatMap(LogPosition.init(parsing:))
    }
}
