import Foundation
import IdemAMQP
import IdemConfig
import IdemConsumerKit
import IdemCore
import Logging
import ServiceLifecycle

/// One connection of a RabbitMQ consumer: deliveries in, dedup and handler through the
/// store, then ack, retry through a delay queue (or nack-requeue), or dead-letter under
/// publisher confirms.
///
/// Batches are claimed in one transaction each. Nothing is acked before its effect is
/// committed; a dead letter or a delayed retry is published and confirmed before the
/// original is acked. When PostgreSQL is unreachable the session closes its channel, so
/// that the broker requeues what it holds, and ends with ``StoreUnavailable``; the
/// ``ConsumerSupervisor`` waits for PostgreSQL and starts a new one. A lost connection
/// ends it with the error; the supervisor reconnects with backoff.
struct AMQPConsumerSession: ConsumerSession {
    let context: ConsumerContext
    let source: AMQPSourceConfig

    private var consumer: ConsumerConfig { context.consumer }
    private var logger: Logger { context.logger }
    private var metrics: ConsumerMetrics { context.metrics }

    // MARK: A session: one connection, from connect to close

    func run(_ status: ConsumerStatus) async throws {
        let connection = try await AMQPConnection.connect(
            url: source.url, tls: tlsOptions, connectionName: source.connectionName ?? "idem-\(consumer.name)",
            heartbeat: source.heartbeat, logger: logger)
        let stream: AMQPDeliveryStream
        var tag: String?
        do {
            let problems = try await AMQPTopologyCheck.problems(connection, source: source, consumer: consumer)
            if !problems.isEmpty { throw SourceMisconfigured(problems) }
            try await declareTopology(connection)
            try await connection.setPrefetch(count: source.prefetch)
            try await connection.confirmSelect()
            if !context.control.isPaused { tag = try await startConsuming(connection) }
            stream = connection.deliveries(capacity: source.prefetch)
        } catch {
            await connection.close()
            throw error
        }
        logger.info(
            tag == nil ? "connected, paused by an operator" : "consuming",
            metadata: ["queue": .string(source.queue), "concurrency": "\(consumer.concurrency)"])
        status.connected()
        let session = AMQPSession(
            connection: connection, stream: stream, queue: source.queue,
            delayQueues: source.retryVia == .delayQueue, logger: logger)
        session.consumerTag = tag
        let watcher = Task { await followPauses(session) }
        let reporter = Task { await reportQueueDepth(session) }
        let end = await dispatch(session)
        watcher.cancel()
        reporter.cancel()
        await watcher.value
        await reporter.value
        stream.stop()
        await session.finishAcks()
        switch end {
        case .shutdown:
            if let tag = session.consumerTag { try? await connection.cancelConsuming(consumerTag: tag) }
            await connection.close()
            logger.info("consumer stopped")
        case .failed(let error):
            await connection.close()
            throw error
        }
    }

    private func startConsuming(_ connection: AMQPConnection) async throws -> String {
        try await connection.startConsuming(
            queue: source.queue, consumerTag: "idem-\(consumer.name)-\(UUID().uuidString.prefix(8))")
    }

    /// Follows the operator's pauses: a pause cancels the consumer on the queue (the
    /// deliveries already received are processed and settled as usual), a resume consumes
    /// again. A failure ends the session.
    private func followPauses(_ session: AMQPSession) async {
        for await paused in context.control.changes() {
            do {
                if paused, let tag = session.consumerTag {
                    try await session.connection.cancelConsuming(consumerTag: tag)
                    session.consumerTag = nil
                    logger.notice(
                        "paused by an operator: no new deliveries; finishing the ones received",
                        metadata: ["queue": .string(source.queue)])
                } else if !paused, session.consumerTag == nil {
                    session.consumerTag = try await startConsuming(session.connection)
                    logger.notice("resumed by an operator", metadata: ["queue": .string(source.queue)])
                }
            } catch {
                session.fail(error)
                return
            }
        }
    }

    /// Records the messages ready in the queue every few seconds, for `idem_amqp_queue_messages`
    /// and the admin API's lag. Best effort: a failed inspection is only logged.
    private func reportQueueDepth(_ session: AMQPSession) async {
        while !Task.isCancelled {
            do {
                let info = try await session.connection.inspectQueue(source.queue)
                metrics.queueDepth(Int64(info.messageCount))
            } catch {
                logger.debug("could not read the depth of \(source.queue): \(error)")
            }
            try? await Task.sleep(for: Self.depthInterval)
        }
    }

    /// How often ``reportQueueDepth(_:)`` asks the broker.
    static let depthInterval = Duration.seconds(5)

    private enum DispatchEnd {
        case shutdown
        case failed(any Error)
    }

    /// Takes batches from the stream and runs up to `consumer.concurrency` of them at once,
    /// until a graceful shutdown or the first failure; then waits for those in flight.
    private func dispatch(_ session: AMQPSession) async -> DispatchEnd {
        let processor = context.makeBatchProcessor()
        return await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            var end = DispatchEnd.shutdown
            while !Task.isShuttingDownGracefully {
                if let failure = session.failure {
                    end = .failed(failure)
                    break
                }
                if inFlight >= consumer.concurrency {
                    await group.next()
                    inFlight -= 1
                    continue
                }
                let deliveries: [AMQPDelivery]
                do {
                    deliveries = try await cancelWhenGracefulShutdown {
                        try await session.stream.nextBatch(
                            maxCount: consumer.batch.size, maxWait: consumer.batch.maxWait,
                            limit: consumer.batch.limit)
                    }
                } catch is CancellationError {
                    break
                } catch {
                    session.fail(error)
                    continue
                }
                if deliveries.isEmpty && session.failure == nil {
                    session.fail(AMQPError(kind: .closed, message: "the delivery stream of \(source.queue) ended"))
                }
                // A failure (or shutdown) meanwhile: leave the batch to the broker, which
                // requeues it when the channel closes.
                guard !deliveries.isEmpty, session.failure == nil, !Task.isShuttingDownGracefully else { continue }
                session.received(deliveries)
                metrics.inFlight(deliveries.count)
                group.addTask {
                    await run(deliveries, processor: processor, session: session)
                    metrics.inFlight(-deliveries.count)
                }
                inFlight += 1
            }
            await group.waitForAll()
            if case .shutdown = end, let failure = session.failure { end = .failed(failure) }
            return end
        }
    }

    private var tlsOptions: AMQPTLSOptions? {
        guard source.url.hasPrefix("amqps://") else { return nil }
        return AMQPTLSOptions(
            caFile: source.tls.caFile, certFile: source.tls.certFile, keyFile: source.tls.keyFile,
            verifyPeer: source.tls.verify, verifyHostname: source.tls.verify)
    }

    /// Declares the queue, its dead-letter route and (for a named dead-letter exchange) the
    /// exchange; an object that exists with other settings (`406 PRECONDITION_FAILED`) is a
    /// ``SourceMisconfigured``.
    private func declareTopology(_ connection: AMQPConnection) async throws {
        guard source.declare else { return }
        do {
            try await declareEachObject(connection)
        } catch let error as AMQPError where error.replyCode == 406 {
            throw SourceMisconfigured([
                "consumers.\(consumer.name).source.amqp.declare: \(error.message); an object with that name exists with other settings: make queue_type (and delivery_limit) say what it is, or delete it to have it declared again"
            ])
        }
    }

    private func declareEachObject(_ connection: AMQPConnection) async throws {
        _ = try await connection.declareQueue(
            name: source.queue, durable: true, exclusive: false, autoDelete: false,
            arguments: AMQPTopologyCheck.queueArguments(source))
        if source.deadLetterExchange.isEmpty {
            // The default exchange routes the dead letters to the queue named by the key.
            _ = try await connection.declareQueue(
                name: source.deadLetterRoutingKey, durable: true, exclusive: false, autoDelete: false,
                arguments: deadLetterQueueArguments)
        } else {
            // A named dead-letter exchange: a durable direct exchange, and `<queue>.dlq`
            // bound to it with the routing key.
            let deadLetterQueue = "\(source.queue).dlq"
            try await connection.declareExchange(name: source.deadLetterExchange, type: "direct", durable: true)
            _ = try await connection.declareQueue(
                name: deadLetterQueue, durable: true, exclusive: false, autoDelete: false,
                arguments: deadLetterQueueArguments)
            try await connection.bindQueue(
                queue: deadLetterQueue, exchange: source.deadLetterExchange, routingKey: source.deadLetterRoutingKey)
        }
    }

    /// The dead-letter queue is of the source's type: a quorum source keeps its dead letters
    /// replicated too.
    private var deadLetterQueueArguments: AMQPTable {
        source.queueType == .quorum ? ["x-queue-type": .utf8("quorum")] : AMQPTable()
    }

    // MARK: A batch

    /// Processes one batch and carries out its decisions; a failure ends the session.
    private func run(_ deliveries: [AMQPDelivery], processor: BatchProcessor, session: AMQPSession) async {
        let messages = deliveries.map { AMQPMessageMapping.message($0, queue: source.queue) }
        let decisions = await processor.process(messages)
        if decisions.contains(where: { $0.disposition == .suspend }) {
            // Ack nothing of this batch; closing the channel hands its deliveries back.
            session.fail(StoreUnavailable())
            return
        }
        do {
            try await settle(deliveries, messages: messages, decisions: decisions, session: session)
        } catch {
            session.fail(error)
        }
    }

    private func settle(
        _ deliveries: [AMQPDelivery], messages: [Message], decisions: [BatchProcessor.Decision],
        session: AMQPSession
    ) async throws {
        let connection = session.connection
        var settled: [(tag: UInt64, needsAck: Bool)] = []
        settled.reserveCapacity(deliveries.count)
        var duplicates = 0
        var deadLettered: [BatchProcessor.Decision] = []
        for index in deliveries.indices {
            let delivery = deliveries[index]
            let decision = decisions[index]
            let action = AMQPAction(decision.disposition, delayQueues: session.delayQueues)
            switch action {
            case .ack:
                if case .acknowledge(.duplicate) = decision.disposition { duplicates += 1 }
            case .nackRequeue:
                try await connection.nack(deliveryTag: delivery.deliveryTag, multiple: false, requeue: true)
            case .publishToDelayQueue(let delay):
                let queue = try await session.delayQueue(for: delay)
                var properties = delivery.properties
                properties.expiration = String(max(1, Int64((delay.seconds * 1000).rounded())))
                try await connection.publishAndConfirm(
                    exchange: "", routingKey: queue, body: delivery.body, properties: properties, mandatory: true)
                context.logRetry(messages[index], decision: decision, delay: delay)
            case .publishToDeadLetterThenAck(let reason):
                var properties = delivery.properties
                for (key, value) in context.deadLetterHeaders(messages[index], decision: decision, reason: reason) {
                    properties.headers[key] = AMQPMessageMapping.field(value)
                }
                properties.expiration = nil
                try await connection.publishAndConfirm(
                    exchange: source.deadLetterExchange, routingKey: source.deadLetterRoutingKey,
                    body: delivery.body, properties: properties, mandatory: true)
                context.logDeadLettered(messages[index], decision: decision, reason: reason)
                deadLettered.append(decision)
            case .withholdAndPause:
                throw StoreUnavailable()
            }
            settled.append((delivery.deliveryTag, action != .nackRequeue))
        }
        // Confirmed dead letters are recorded before their originals are acked.
        await context.recordDeadLettersConfirmed(deadLettered)
        session.settle(settled)
        logger.debug("batch done", metadata: ["size": "\(deliveries.count)", "duplicates": "\(duplicates)"])
    }
}
