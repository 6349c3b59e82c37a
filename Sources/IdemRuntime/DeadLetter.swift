import IdemAMQP
import IdemCore
import IdemKafka

/// One dead letter of a consumer, as `idem dlq` reads it from the consumer's dead-letter
/// queue (RabbitMQ) or topic (Kafka).
public struct DeadLetter: Sendable {
    /// Its place in the listing, from 1: in queue order (RabbitMQ), or by topic, partition
    /// and offset (Kafka).
    public let position: Int
    /// The ID the audit and the dedup table know it by: `x-idem-message-id`, else
    /// `sha256:<hex>` of the body (``DeadLetterMetadata/auditID(body:)``).
    public let id: String
    /// Where it is: `amqp:<dead-letter queue>` or `<topic>:<partition>:<offset>` (the
    /// audit's `dead_letter_source`).
    public let location: String
    /// What its `x-idem-*` headers say.
    public let metadata: DeadLetterMetadata
    /// When it was dead-lettered (seconds since the Unix epoch): `x-idem-dead-lettered-at`,
    /// or for a Kafka record without it the record's timestamp.
    public let deadLetteredAt: UInt64?
    /// The body.
    public let body: [UInt8]
    /// The size of the body, also when ``body`` was left out (a listing).
    public let bodySize: Int
    /// Every header, in order.
    public let headers: [(name: String, value: HeaderValue)]
    /// What the broker tells besides headers: the AMQP properties that are set, or the Kafka
    /// key, partition, offset and timestamp.
    public let attributes: [(name: String, value: String)]
    /// What republishing needs: the delivery tag and properties, or the record.
    let origin: Origin

    /// The broker's own form of the dead letter.
    enum Origin: Sendable {
        case amqp(deliveryTag: UInt64, properties: AMQPProperties)
        case kafka(KafkaRecord)
    }

    init(
        position: Int, location: String, headers: [(name: String, value: HeaderValue)], body: [UInt8],
        attributes: [(name: String, value: String)], fallbackTime: UInt64?, origin: Origin
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
        switch letter.origin {
        case .amqp(let tag, _): origin = .amqp(deliveryTag: tag, properties: AMQPProperties())
        case .kafka(var record):
            record.value = nil
            origin = .kafka(record)
        }
    }

    /// The dead letter without its body, for listings that keep many.
    public func withoutBody() -> DeadLetter {
        DeadLetter(trimming: self)
    }

    /// Whether `selector` names this dead letter: its position number, its location, or
    /// for a Kafka record `PARTITION:OFFSET`.
    public func isAt(_ selector: String) -> Bool {
        if let number = Int(selector) { return number == position }
        if selector == location { return true }
        if case .kafka(let record) = origin { return selector == "\(record.partition):\(record.offset)" }
        return false
    }

    /// Whether the dead letter belongs to `consumer`: its `x-idem-consumer` names it, or
    /// is absent (a dead-letter queue or topic may be shared by consumers).
    public func belongs(to consumer: String) -> Bool {
        metadata.consumer.map { $0 == consumer } ?? true
    }
}
