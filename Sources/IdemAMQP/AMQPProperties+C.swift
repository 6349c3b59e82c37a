import CRabbitMQ

extension AMQPProperties {
    /// The short-string properties with their AMQP names, for length checks.
    var shortStrings: [(name: String, value: String?)] {
        [
            ("content-type", contentType), ("content-encoding", contentEncoding),
            ("correlation-id", correlationId), ("reply-to", replyTo),
            ("expiration", expiration), ("message-id", messageId), ("type", type),
            ("user-id", userId), ("app-id", appId),
        ]
    }

    /// The bytes these properties take in a content header frame's property list.
    var encodedSize: Int {
        var size = 2  // the property flags
        for (_, value) in shortStrings { size += value.map { 1 + $0.utf8.count } ?? 0 }
        if !headers.isEmpty { size += 4 + headers.encodedSize }
        if deliveryMode != nil { size += 1 }
        if priority != nil { size += 1 }
        if timestamp != nil { size += 8 }
        return size
    }

    /// The C form of these properties, pointing into `arena`.
    func cProperties(in arena: AMQPArena) -> amqp_basic_properties_t {
        var properties = amqp_basic_properties_t()
        var flags: UInt32 = 0
        func set(_ value: String?, _ flag: Int32, _ field: WritableKeyPath<amqp_basic_properties_t, amqp_bytes_t>) {
            guard let value else { return }
            properties[keyPath: field] = arena.bytes(value)
            flags |= UInt32(flag)
        }
        set(contentType, AMQP_BASIC_CONTENT_TYPE_FLAG, \.content_type)
        set(contentEncoding, AMQP_BASIC_CONTENT_ENCODING_FLAG, \.content_encoding)
        set(correlationId, AMQP_BASIC_CORRELATION_ID_FLAG, \.correlation_id)
        set(replyTo, AMQP_BASIC_REPLY_TO_FLAG, \.reply_to)
        set(expiration, AMQP_BASIC_EXPIRATION_FLAG, \.expiration)
        set(messageId, AMQP_BASIC_MESSAGE_ID_FLAG, \.message_id)
        set(type, AMQP_BASIC_TYPE_FLAG, \.type)
        set(userId, AMQP_BASIC_USER_ID_FLAG, \.user_id)
        set(appId, AMQP_BASIC_APP_ID_FLAG, \.app_id)
        if !headers.isEmpty {
            properties.headers = arena.table(headers)
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
        }
        if let deliveryMode {
            properties.delivery_mode = deliveryMode.rawValue
            flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        }
        if let priority {
            properties.priority = priority
            flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG)
        }
        if let timestamp {
            properties.timestamp = timestamp
            flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG)
        }
        properties._flags = flags
        return properties
    }

    /// Copies received C properties into Swift values.
    init(_ properties: amqp_basic_properties_t) {
        let flags = properties._flags
        func get(_ flag: Int32, _ value: amqp_bytes_t) -> String? {
            flags & UInt32(flag) != 0 ? value.string : nil
        }
        self.init(
            contentType: get(AMQP_BASIC_CONTENT_TYPE_FLAG, properties.content_type),
            contentEncoding: get(AMQP_BASIC_CONTENT_ENCODING_FLAG, properties.content_encoding),
            headers: flags & UInt32(AMQP_BASIC_HEADERS_FLAG) != 0
                ? AMQPTable(properties.headers) : [:],
            deliveryMode: flags & UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG) != 0
                ? DeliveryMode(rawValue: properties.delivery_mode) : nil,
            priority: flags & UInt32(AMQP_BASIC_PRIORITY_FLAG) != 0 ? properties.priority : nil,
            correlationId: get(AMQP_BASIC_CORRELATION_ID_FLAG, properties.correlation_id),
            replyTo: get(AMQP_BASIC_REPLY_TO_FLAG, properties.reply_to),
            expiration: get(AMQP_BASIC_EXPIRATION_FLAG, properties.expiration),
            messageId: get(AMQP_BASIC_MESSAGE_ID_FLAG, properties.message_id),
            timestamp: flags & UInt32(AMQP_BASIC_TIMESTAMP_FLAG) != 0
                ? properties.timestamp : nil,
            type: get(AMQP_BASIC_TYPE_FLAG, properties.type),
            userId: get(AMQP_BASIC_USER_ID_FLAG, properties.user_id),
            appId: get(AMQP_BASIC_APP_ID_FLAG, properties.app_id)
        )
    }
}
