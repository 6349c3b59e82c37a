import IdemAMQP
import IdemConsumerKit
import IdemCore
import Logging

/// Publishes messages to a queue through the default exchange, mandatory and under
/// publisher confirms: the RabbitMQ side of `idem publish` and `idem replay`.
struct AMQPPublisher: MessagePublisher {
    /// A target's settings, as ``AMQPBrokerAdapter`` reads them.
    struct Settings: Sendable {
        var url: String
        var queue: String
        /// Declare the queue (durable) first, as its consumer does.
        var declare: Bool
        var tls: AMQPTLSOptions?
    }

    let connection: AMQPConnection
    let queue: String

    var batchLimit: Int { 200 }

    /// Connects, turns confirms on and declares the queue when the settings say so.
    static func open(_ settings: Settings, client: String, logger: Logger) async throws -> AMQPPublisher {
        let connection = try await AMQPConnection.connect(
            url: settings.url, tls: settings.tls, connectionName: client, logger: logger)
        do {
            try await connection.confirmSelect()
            if settings.declare { _ = try await connection.declareQueue(name: settings.queue, durable: true) }
        } catch {
            await connection.close()
            throw error
        }
        return AMQPPublisher(connection: connection, queue: settings.queue)
    }

    func send(_ messages: [OutgoingMessage]) async throws {
        for outgoing in messages {
            // Mandatory: a message no queue takes fails its confirm instead of being lost.
            try await connection.publish(
                exchange: "", routingKey: queue, body: outgoing.message.body,
                properties: AMQPProperties(outgoing.message), mandatory: true)
        }
        try await connection.waitForConfirms()
    }

    func close() async {
        await connection.close()
    }
}

extension AMQPProperties {
    /// The properties and headers of `message`, as RabbitMQ carries them.
    init(_ message: Message) {
        let own = message.properties
        self.init(
            contentType: own.contentType, contentEncoding: own.contentEncoding,
            deliveryMode: own.deliveryMode.flatMap(AMQPProperties.DeliveryMode.init(rawValue:)),
            priority: own.priority, correlationId: own.correlationId, replyTo: own.replyTo,
            expiration: own.expiration, messageId: own.messageId, timestamp: own.timestamp, type: own.type,
            userId: own.userId, appId: own.appId)
        for (name, value) in message.headers.sorted(by: { $0.key < $1.key }) {
            headers[name] = Self.fieldValue(value)
        }
    }

    private static func fieldValue(_ value: HeaderValue) -> AMQPFieldValue {
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
