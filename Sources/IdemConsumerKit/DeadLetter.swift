import IdemCore

/// One dead letter of a consumer, as `idem dlq` reads it from the consumer's dead-letter
/// queue or topic, through its broker adapter's ``DeadLetterChannel``.
public struct DeadLetter: Sendable {
    /// Its place in the listing, from 1, in the order the channel reads them.
    public let position: Int
    /// The ID the audit and the dedup table know it by: `x-idem-message-id`, else
    /// `sha256:<hex>` of the body (``DeadLetterMetadata/auditID(body:)``).
    public let id: String
    /// Where it is, in its adapter's words: a queue's `KIND:QUEUE`, a log position's
    /// `STREAM:LANE:OFFSET` (the audit's `dead_letter_source`).
    public let location: String
    /// What its `x-idem-*` headers say.
    public let metadata: DeadLetterMetadata
    /// When it was dead-lettered (seconds since the Unix epoch): `x-idem-dead-lettered-at`,
    /// or without it the broker's timestamp, if any.
    public let deadLetteredAt: UInt64?
    /// The body.
    public let body: [UInt8]
    /// The size of the body, also when ``body`` was left out (a listing).
    public let bodySize: Int
    /// Every header, in order.
    public let headers: [(name: String, value: HeaderValue)]
    /// What the broker tells besides headers (properties, key, position, timestamp).
    public let attributes: [(name: String, value: String)]
    /// What republishing and removing it need, in its adapter's own form.
    public let origin: any DeadLetterOrigin

    /// A dead letter read at `position` of its channel, at `location`; `fallbackTime` is
    /// the broker's timestamp, for letters without `x-idem-dead-lettered-at`.
    public init(
        position: Int, location: String, headers: [(name: String, value: HeaderValue)], body: [UInt8],
        attributes: [(name: String, value: String)], fallbackTime: UInt64?, origin: any DeadLetterOrigin
    ) {
        self.position = position
        self.location = location
        self.headers = headers
        self.body = body
        self.bodySize = body.count
        self.attributes = attributes
        self.origin = origin
        var byName: [String: HeaderValue] = [:]
        for (name, value) in headers where byName[name] == nil { byName[name] = value }
        let metadata = DeadLetterMetadata(headers: byName)
        self.metadata = metadata
        self.deadLetteredAt = metadata.deadLetteredAt ?? fallbackTime
        self.id = metadata.auditID(body: body)
    }

    private init(trimming letter: DeadLetter) {
        position = letter.position
        location = letter.location
        metadata = letter.metadata
        deadLetteredAt = letter.deadLetteredAt
        body = []
        bodySize = letter.bodySize
        headers = letter.headers
        attributes = letter.attributes
        id = letter.id
        origin = letter.origin.withoutBody()
    }

    /// The dead letter without its body, for listings that keep many.
    public func withoutBody() -> DeadLetter {
        DeadLetter(trimming: self)
    }

    /// Whether `selector` names this dead letter: its position number, its location, or
    /// one of its origin's ``DeadLetterOrigin/aliases``.
    public func isAt(_ selector: String) -> Bool {
        if let number = Int(selector) { return number == position }
        return selector == location || origin.aliases.contains(selector)
    }

    /// What it failed of, for grouping: its reason and its last error, normalized.
    public var fingerprint: FailureFingerprint {
        FailureFingerprint(reason: metadata.reason, lastError: metadata.lastError)
    }

    /// Whether the dead letter belongs to `consumer`: its `x-idem-consumer` names it, or
    /// is absent (a dead-letter queue or topic may be shared by consumers).
    public func belongs(to consumer: String) -> Bool {
        metadata.consumer.map { $0 == consumer } ?? true
    }
}
