import IdemAMQP
import IdemConfig

/// What a RabbitMQ consumer's settings need of the broker, checked before it takes a
/// message (at every session's start) and by `idem check-config`: that an existing queue is
/// of the configured type (`queue_type`), that the dead-letter route exists when idem does
/// not declare it, and that a quorum queue's default delivery limit (20 from RabbitMQ 4)
/// leaves room for idem's attempts with `retry_via: requeue`.
///
/// It changes nothing on the broker: a queue's type is probed by declaring it again with
/// the configured type, which RabbitMQ refuses (`406 PRECONDITION_FAILED`, "inequivalent
/// arg 'x-queue-type'") for a queue of another type, and which is a no-op otherwise.
enum AMQPTopologyCheck {
    /// The arguments idem declares the queue with: the type for a quorum queue and its
    /// delivery limit when set, the type for a stream and its retention when set. A classic
    /// queue gets none, so that it stays equivalent to one declared without arguments.
    static func queueArguments(_ source: AMQPSourceConfig) -> AMQPTable {
        var arguments = AMQPTable()
        switch source.queueType {
        case .classic:
            break
        case .quorum:
            arguments["x-queue-type"] = .utf8("quorum")
            if let limit = source.deliveryLimit { arguments["x-delivery-limit"] = .i64(Int64(limit)) }
        case .stream:
            arguments["x-queue-type"] = .utf8("stream")
            if let age = source.streamMaxAge { arguments["x-max-age"] = .utf8("\(max(1, age.components.seconds))s") }
            if let bytes = source.streamMaxLengthBytes { arguments["x-max-length-bytes"] = .i64(bytes) }
        }
        return arguments
    }

    /// Each problem of `consumer`'s queue on the broker behind `connection`, naming the
    /// setting and the fix; empty when none.
    ///
    /// - Throws: ``AMQPError`` when the broker cannot be asked (a lost connection).
    static func problems(
        _ connection: AMQPConnection, source: AMQPSourceConfig, consumer: ConsumerConfig
    ) async throws(AMQPError) -> [String] {
        var problems: [String] = []
        let prefix = "consumers.\(consumer.name).source.amqp"
        if try await exists(connection, queue: source.queue) {
            if let mismatch = try await typeMismatch(connection, source: source) {
                problems.append(
                    "queue '\(source.queue)' does not match \(prefix).queue_type (\(source.queueType.rawValue)): the broker says \(mismatch); set queue_type to the queue's type (classic, quorum or stream)"
                )
            }
        }
        if !source.declare {
            if source.deadLetterExchange.isEmpty {
                if !(try await exists(connection, queue: source.deadLetterRoutingKey)) {
                    problems.append(
                        "dead letters go to queue '\(source.deadLetterRoutingKey)' through the default exchange (\(prefix).dead_letter_routing_key), and it does not exist: idem publishes them mandatory, so each one would be refused and its message retried forever; declare the queue, or set \(prefix).declare: true"
                    )
                }
            } else if !(try await exchangeExists(connection, source.deadLetterExchange)) {
                problems.append(
                    "dead letters go to exchange '\(source.deadLetterExchange)' (\(prefix).dead_letter_exchange), and it does not exist: each one would be refused and its message retried forever; declare it with a queue bound by '\(source.deadLetterRoutingKey)', or set \(prefix).declare: true"
                )
            }
        }
        let major = await connection.serverMajorVersion ?? 0
        if let problem = defaultDeliveryLimitProblem(source: source, consumer: consumer, brokerMajorVersion: major) {
            problems.append(problem)
        }
        return problems
    }

    /// The problem of a quorum queue without a configured delivery limit on a broker whose
    /// default one (20 from RabbitMQ 4) ends `retry_via: requeue` retries early.
    static func defaultDeliveryLimitProblem(
        source: AMQPSourceConfig, consumer: ConsumerConfig, brokerMajorVersion: Int
    ) -> String? {
        let limit = AMQPSourceConfig.rabbitMQ4DefaultDeliveryLimit
        guard source.queueType == .quorum, source.retryVia == .requeue, source.deliveryLimit == nil,
            brokerMajorVersion >= 4, limit <= consumer.retry.maxAttempts
        else { return nil }
        return SafetyChecks.deliveryLimitMessage(limit: limit, consumer: consumer, configured: false)
    }

    private static func exists(_ connection: AMQPConnection, queue: String) async throws(AMQPError) -> Bool {
        do {
            _ = try await connection.inspectQueue(queue)
            return true
        } catch  where error.replyCode == 404 {
            return false
        }
    }

    private static func exchangeExists(_ connection: AMQPConnection, _ name: String) async throws(AMQPError) -> Bool {
        do {
            try await connection.inspectExchange(name)
            return true
        } catch  where error.replyCode == 404 {
            return false
        }
    }

    /// The broker's words when the existing queue is of another type than configured (or
    /// has another delivery limit than the one configured); `nil` when it matches, or when
    /// the probe is inconclusive (no permission to declare, other arguments differing, an
    /// exclusive queue).
    private static func typeMismatch(
        _ connection: AMQPConnection, source: AMQPSourceConfig
    ) async throws(AMQPError) -> String? {
        do {
            _ = try await connection.declareQueue(
                name: source.queue, durable: true, exclusive: false, autoDelete: false,
                arguments: queueArguments(source))
            return nil
        } catch  where error.replyCode == 406 {
            let text = error.replyText ?? error.message
            guard text.contains("x-queue-type") || text.contains("x-delivery-limit") else { return nil }
            return text
        } catch  where error.replyCode != nil {
            // Refused for another reason (no configure permission, an exclusive queue).
            return nil
        }
    }
}
