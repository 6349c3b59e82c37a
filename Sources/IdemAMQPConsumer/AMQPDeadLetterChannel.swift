import IdemAMQP
import IdemConfig
import IdemConsumerKit
import IdemCore
import Logging
import Synchronization

/// The dead-letter queue of a RabbitMQ consumer, for `idem dlq`.
///
/// Browsing takes messages with `basic.get` and leaves them unacknowledged: the broker puts
/// back every one not acked, in its place, when the connection closes. It stops after the
/// number of messages the queue held when the channel opened, so that a message
/// dead-lettered again while a replay runs is left for the next run.
public final class AMQPDeadLetterChannel: DeadLetterChannel {
    private let connection: AMQPConnection
    private let deadLetterQueue: String
    private let workQueue: String
    private let taken = Mutex(0)
    /// The messages in the dead-letter queue when the channel opened.
    public let count: Int?

    public var name: String { "queue \(deadLetterQueue)" }
    public var removesDeadLetters: Bool { true }

    private init(connection: AMQPConnection, deadLetterQueue: String, workQueue: String, count: Int) {
        self.connection = connection
        self.deadLetterQueue = deadLetterQueue
        self.workQueue = workQueue
        self.count = count
    }

    /// Connects to the consumer's broker and counts its dead-letter queue.
    ///
    /// - Throws: ``DeadLetterChannelError`` when the queue does not exist, or the
    ///   ``AMQPError`` of the connection (naming the host and port, never the password).
    public static func open(source: AMQPSourceConfig, logger: Logger) async throws -> AMQPDeadLetterChannel {
        let connection = try await AMQPConnection.connect(
            url: source.url, tls: source.tlsOptions, connectionName: "idem dlq", logger: logger)
        do {
            try await connection.confirmSelect()
            let info = try await inspect(source.deadLetterQueue, on: connection)
            return AMQPDeadLetterChannel(
                connection: connection, deadLetterQueue: source.deadLetterQueue, workQueue: source.queue,
                count: Int(info.messageCount))
        } catch {
            await connection.close()
            throw error
        }
    }

    /// The queue's state; a queue that does not exist is a ``DeadLetterChannelError``.
    private static func inspect(_ queue: String, on connection: AMQPConnection) async throws -> AMQPQueueInfo {
        do {
            return try await connection.inspectQueue(queue)
        } catch {
            guard error.replyCode == 404 else { throw error }
            throw DeadLetterChannelError(
                "the dead-letter queue '\(queue)' does not exist on \(connection.url.endpoint)")
        }
    }

    public func next() async throws -> DeadLetter? {
        let position = taken.withLock { taken -> Int? in
            guard taken < (count ?? 0) else { return nil }
            taken += 1
            return taken
        }
        guard let position, let delivery = try await connection.get(queue: deadLetterQueue, autoAck: false) else {
            return nil
        }
        let properties = delivery.properties
        return DeadLetter(
            position: position, location: "amqp:\(deadLetterQueue)",
            headers: properties.headers.entries.map { ($0.key, AMQPMessageMapping.value($0.value)) },
            body: delivery.body, attributes: Self.attributes(delivery), fallbackTime: nil,
            origin: AMQPDeadLetterOrigin(deliveryTag: delivery.deliveryTag, properties: properties))
    }

    public func target(for letter: DeadLetter) throws -> String {
        "amqp:\(workQueue)"
    }

    public func republish(_ letter: DeadLetter, replayID: Int64) async throws -> String {
        guard var properties = (letter.origin as? AMQPDeadLetterOrigin)?.properties else {
            throw DeadLetterChannelError("\(letter.location) is not a RabbitMQ message")
        }
        properties.headers.entries.removeAll { DeadLetterHeaders.isIdemHeader($0.key) }
        properties.headers[DeadLetterHeaders.replayId] = .i64(replayID)
        properties.expiration = nil
        // Mandatory and confirmed: a work queue that is gone is an error, not a lost message.
        try await connection.publishAndConfirm(
            exchange: "", routingKey: workQueue, body: letter.body, properties: properties, mandatory: true)
        return "amqp:\(workQueue)"
    }

    public func remove(_ letter: DeadLetter) async throws {
        guard let tag = (letter.origin as? AMQPDeadLetterOrigin)?.deliveryTag else { return }
        try await connection.ack(deliveryTag: tag)
    }

    public func close() async {
        await connection.close()
    }

    private static func attributes(_ delivery: AMQPDelivery) -> [(name: String, value: String)] {
        let properties = delivery.properties
        var out: [(name: String, value: String)] = []
        func add(_ name: String, _ value: String?) {
            if let value { out.append((name, value)) }
        }
        add("exchange", delivery.exchange.isEmpty ? "(default)" : delivery.exchange)
        add("routing-key", delivery.routingKey)
        add("message-id", properties.messageId)
        add("correlation-id", properties.correlationId)
        add("content-type", properties.contentType)
        add("content-encoding", properties.contentEncoding)
        add("type", properties.type)
        add("app-id", properties.appId)
        add("user-id", properties.userId)
        add("reply-to", properties.replyTo)
        add("expiration", properties.expiration)
        add("timestamp", properties.timestamp.map { String($0) })
        add("delivery-mode", properties.deliveryMode.map { $0 == .persistent ? "2 (persistent)" : "1 (transient)" })
        add("priority", properties.priority.map { String($0) })
        return out
    }
}
