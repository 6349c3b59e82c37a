import IdemAMQP
import IdemConfig
import IdemCore

/// Turns AMQP deliveries into the core's ``Message``, every header type included.
enum AMQPMessageMapping {
    static func message(_ delivery: AMQPDelivery, queue: String) -> Message {
        let properties = delivery.properties
        return Message(
            body: delivery.body,
            headers: headers(properties.headers),
            properties: MessageProperties(
                messageId: properties.messageId, correlationId: properties.correlationId,
                contentType: properties.contentType, contentEncoding: properties.contentEncoding,
                type: properties.type, appId: properties.appId, userId: properties.userId,
                replyTo: properties.replyTo, expiration: properties.expiration, timestamp: properties.timestamp,
                deliveryMode: properties.deliveryMode?.rawValue, priority: properties.priority),
            source: source(queue: queue, redelivered: delivery.redelivered, deliveryCount: deliveryCount(delivery)))
    }

    /// The source of a delivery from `queue`: `amqp:QUEUE`.
    static func source(queue: String, redelivered: Bool = false, deliveryCount: Int? = nil) -> MessageSource {
        MessageSource(
            kind: .amqp, description: "amqp:\(queue)", redelivered: redelivered, deliveryCount: deliveryCount,
            features: AMQPSourceConfig.messageFeatures)
    }

    /// A quorum queue's count of the earlier deliveries of a message (`x-delivery-count`);
    /// `nil` when absent (a first delivery, or a queue that does not count).
    static func deliveryCount(_ delivery: AMQPDelivery) -> Int? {
        guard let value = delivery.properties.headers["x-delivery-count"] else { return nil }
        return value.integerValue.map { Int(clamping: $0) }
    }

    static func headers(_ table: AMQPTable) -> [String: HeaderValue] {
        var headers: [String: HeaderValue] = [:]
        for entry in table.entries {
            headers[entry.key] = value(entry.value)
        }
        return headers
    }

    static func value(_ field: AMQPFieldValue) -> HeaderValue {
        switch field {
        case .boolean(let value): return .bool(value)
        case .i8(let value): return .int(Int64(value))
        case .u8(let value): return .uint(UInt64(value))
        case .i16(let value): return .int(Int64(value))
        case .u16(let value): return .uint(UInt64(value))
        case .i32(let value): return .int(Int64(value))
        case .u32(let value): return .uint(UInt64(value))
        case .i64(let value): return .int(value)
        case .u64(let value): return .uint(value)
        case .f32(let value): return .double(Double(value))
        case .f64(let value): return .double(value)
        case .decimal(let scale, let value): return .decimal(scale: scale, value: Int32(bitPattern: value))
        case .utf8(let text): return .string(text)
        case .bytes(let bytes): return .bytes(bytes)
        case .array(let items): return .array(items.map(value))
        case .table(let table): return .table(headers(table))
        case .timestamp(let seconds): return .timestamp(seconds)
        case .void: return .void
        }
    }

    /// A core header value as an AMQP field, for the `x-idem-*` headers.
    static func field(_ value: HeaderValue) -> AMQPFieldValue {
        switch value {
        case .string(let text): return .utf8(text)
        case .bytes(let bytes): return .bytes(bytes)
        case .bool(let flag): return .boolean(flag)
        case .int(let number): return .i64(number)
        // RabbitMQ rewrites u64 as i64 when it dead-letters a message; i64 survives.
        case .uint(let number): return number <= UInt64(Int64.max) ? .i64(Int64(number)) : .u64(number)
        case .double(let number): return .f64(number)
        case .decimal(let scale, let number): return .decimal(scale: scale, value: UInt32(bitPattern: number))
        case .timestamp(let seconds): return .timestamp(seconds)
        case .array(let items): return .array(items.map(field))
        case .table(let table):
            var out = AMQPTable()
            for key in table.keys.sorted() { out[key] = field(table[key]!) }
            return .table(out)
        case .void: return .void
        }
    }
}
