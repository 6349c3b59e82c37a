import IdemAMQP
import IdemCore
import IdemKafka

/// One line of a replay corpus (or of `idem publish`'s samples): the message, how many
/// times to send it and, for Kafka, a fixed partition.
struct CorpusEntry: Sendable {
    /// The 1-based line number in the file.
    var line: Int
    /// The message, as the target's broker will carry it.
    var message: Message
    /// How many copies to send (`times`, or `copies`): 1 to 10,000.
    var times: Int
    /// The Kafka partition to produce to; nil lets the key (or the partitioner) choose.
    var partition: Int32?

    /// The AMQP properties to publish the message with: its own, and its headers as a table.
    var amqpProperties: AMQPProperties {
        let own = message.properties
        var properties = AMQPProperties(
            contentType: own.contentType, contentEncoding: own.contentEncoding,
            deliveryMode: own.deliveryMode.flatMap(AMQPProperties.DeliveryMode.init(rawValue:)),
            priority: own.priority, correlationId: own.correlationId, replyTo: own.replyTo,
            expiration: own.expiration, messageId: own.messageId, timestamp: own.timestamp, type: own.type,
            userId: own.userId, appId: own.appId)
        for (name, value) in message.headers.sorted(by: { $0.key < $1.key }) {
            properties.headers[name] = Self.amqpValue(value)
        }
        return properties
    }

    /// The Kafka record headers, sorted by name.
    var kafkaHeaders: [KafkaHeader] {
        message.headers.keys.sorted().compactMap { name -> KafkaHeader? in
            switch message.headers[name] {
            case .bytes(let bytes)?: return KafkaHeader(key: name, value: bytes)
            case .void?: return KafkaHeader(key: name, value: nil)
            case let value?: return value.identityText.map { KafkaHeader(key: name, text: $0) }
            case nil: return nil
            }
        }
    }

    /// A corpus header value as an AMQP field value (numbers as signed 64-bit integers).
    private static func amqpValue(_ value: HeaderValue) -> AMQPFieldValue {
        switch value {
        case .string(let text): return .utf8(text)
        case .bytes(let bytes): return .bytes(bytes)
        case .bool(let flag): return .boolean(flag)
        case .int(let number): return .i64(number)
        case .void: return .void
        default: return .utf8(value.identityText ?? "")
        }
    }
}
