/// The `x-idem-*` headers a dead-lettered message carries, whatever the broker.
public enum DeadLetterHeaders {
    /// `x-idem-reason`: the machine-readable reason (``DeadLetterReason/code``).
    public static let reason = "x-idem-reason"
    /// `x-idem-attempts`: handler attempts made, counted in PostgreSQL.
    public static let attempts = "x-idem-attempts"
    /// `x-idem-source`: where the message came from (``MessageSource/description``: a queue's `KIND:QUEUE`, a log position's `STREAM:LANE:OFFSET`).
    public static let source = "x-idem-source"
    /// `x-idem-first-seen`: when idem first saw the message, seconds since the Unix epoch.
    public static let firstSeen = "x-idem-first-seen"
    /// `x-idem-last-error`: the last error, in words.
    public static let lastError = "x-idem-last-error"
    /// `x-idem-consumer`: the consumer that gave up on the message.
    public static let consumer = "x-idem-consumer"
    /// `x-idem-message-id`: the message ID idem derived, when it derived one.
    public static let messageId = "x-idem-message-id"
    /// `x-idem-dead-lettered-at`: when the dead letter was published, seconds since the
    /// Unix epoch. It tells a copy dead-lettered after a replay (a new failure) from one
    /// dead-lettered before it (already replayed).
    public static let deadLetteredAt = "x-idem-dead-lettered-at"
    /// `x-idem-replay-id`: set by `idem dlq replay` on the message it puts back on the
    /// source: the ID of its row in the replay audit table. Dead-lettering keeps it, so that
    /// a copy that failed again after a replay names that replay.
    public static let replayId = "x-idem-replay-id"

    /// Whether `name` is one of idem's own headers (`x-idem-*`).
    public static func isIdemHeader(_ name: String) -> Bool {
        name.hasPrefix("x-idem-")
    }

    /// The headers for `reason`, in a fixed order.
    ///
    /// - Parameter deadLetteredAt: now, in seconds since the Unix epoch.
    public static func headers(
        reason: DeadLetterReason, consumer: String, source: MessageSource, id: MessageID?, firstSeen: UInt64,
        deadLetteredAt: UInt64
    ) -> [(String, HeaderValue)] {
        var headers: [(String, HeaderValue)] = [
            (Self.reason, .string(reason.code)),
            (attempts, .int(Int64(reason.attempts))),
            (Self.source, .string(source.description)),
            (Self.firstSeen, .timestamp(firstSeen)),
            (Self.deadLetteredAt, .timestamp(deadLetteredAt)),
            (lastError, .string(String(reason.description.prefix(4096)))),
            (Self.consumer, .string(consumer)),
        ]
        if let id { headers.append((messageId, .string(id.value))) }
        return headers
    }
}
