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
///
/// A RabbitMQ stream (`queue_type: stream`) is read from the position stored in
/// PostgreSQL: the session attaches there (`x-stream-offset`), stores the offset below which
/// every delivery is settled every second and when it ends, and never nacks (a stream
/// refuses it); closing the channel hands nothing back, the next session attaches at the
/// stored position again.
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
        var position: StreamPositionTracker?
        do {
            let problems = try await AMQPTopologyCheck.problems(connection, source: source, consumer: consumer)
            if !problems.isEmpty { throw SourceMisconfigured(problems) }
            try await declareTopology(connection)
            try await connection.setPrefetch(count: source.prefetch)
            try await connection.confirmSelect()
            if source.queueType == .stream { position = StreamPositionTracker(stored: try await storedPosition()) }
            if !context.control.isPaused {
                let attachment = try await startConsuming(connection, at: position)
                tag = attachment.tag
                position?.attached(consumerTag: attachment.tag, at: attachment.offset)
            }
            stream = connection.deliveries(capacity: source.prefetch)
        } catch {
            await connection.close()
            throw error
        }
        var metadata: Logger.Metadata = ["queue": .string(source.queue), "concurrency": "\(consumer.concurrency)"]
        if let position { metadata["stream_offset"] = .string(attachDescription(position)) }
        logger.info(tag == nil ? "connected, paused by an operator" : "consuming", metadata: metadata)
        status.connected()
        let session = AMQPSession(
            connection: connection, stream: stream, queue: source.queue, retryRoute: retryRoute, position: position,
            deliveryLimit: await deliveryLimit(connection), logger: logger)
        session.consumerTag = tag
        let watcher = Task { await followAttachment(session) }
        let reporter = Task {
            if position == nil { await reportQueueDepth(session) } else { await storePositions(session) }
        }
        let end = await dispatch(session)
        watcher.cancel()
        reporter.cancel()
        await watcher.value
        await reporter.value
        stream.stop()
        await session.finishAcks()
        await storePosition(session)
        await deadLetterLastDeliveries(session)
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

    /// A quorum queue's delivery limit as far as idem knows it: `delivery_limit`, else
    /// RabbitMQ 4's default of 20 (earlier versions have none by default).
    private func deliveryLimit(_ connection: AMQPConnection) async -> Int? {
        guard source.queueType == .quorum else { return nil }
        if let limit = source.deliveryLimit { return limit }
        return (await connection.serverMajorVersion ?? 0) >= 4 ? AMQPSourceConfig.rabbitMQ4DefaultDeliveryLimit : nil
    }

    // MARK: Last deliveries

    /// Dead-letters, instead of handing back, the deliveries on their last delivery that no
    /// batch settled (PostgreSQL went away, or a shutdown left them in the buffer): closing
    /// the channel would count one more delivery, and the broker would drop them. Best
    /// effort: the broker may be gone too (logged).
    private func deadLetterLastDeliveries(_ session: AMQPSession) async {
        guard session.deliveryLimit != nil else { return }
        var last = session.takeLastDeliveries()
        while let batch = try? await session.stream.nextBatch(maxCount: 1000, maxWait: .zero), !batch.isEmpty {
            last += batch.filter(session.isLastDelivery)
        }
        guard !last.isEmpty else { return }
        var done = 0
        do {
            for delivery in last {
                let message = AMQPMessageMapping.message(delivery, queue: source.queue)
                let reason = deliveryLimitReason(delivery, session: session, attempts: 0, lastError: nil)
                let id: MessageID? =
                    if case .identified(let derived) = consumer.identity.derive(message) { derived } else { nil }
                let now = UInt64(Date().timeIntervalSince1970)
                let headers = DeadLetterHeaders.headers(
                    reason: reason, consumer: consumer.name, source: message.source, id: id, firstSeen: now,
                    deadLetteredAt: now)
                try await publishDeadLetter(delivery, headers: headers, connection: session.connection)
                try await session.connection.ack(deliveryTag: delivery.deliveryTag)
                metrics.deadLettered(reason.code)
                logger.warning(
                    "dead-lettered: \(reason.description)",
                    metadata: ["id": .string(id?.value ?? ""), "reason": .string(reason.code)])
                done += 1
            }
        } catch {
            logger.error(
                "could not dead-letter \(last.count - done) message(s) on their last delivery; the broker may drop them: \(error)"
            )
        }
    }

    /// Publishes the dead letter of `delivery` with `headers` (the `x-idem-*` ones) to the
    /// dead-letter route, mandatory, and waits for the broker's confirm. The copy has no
    /// expiration and no stream offset of its own.
    private func publishDeadLetter(
        _ delivery: AMQPDelivery, headers: [(String, HeaderValue)], connection: AMQPConnection
    ) async throws {
        var properties = delivery.properties
        for (key, value) in headers { properties.headers[key] = AMQPMessageMapping.field(value) }
        properties.expiration = nil
        properties.headers["x-stream-offset"] = nil
        try await connection.publishAndConfirm(
            exchange: source.deadLetterExchange, routingKey: source.deadLetterRoutingKey,
            body: delivery.body, properties: properties, mandatory: true)
    }

    /// The reason of the dead letter of `delivery`, on its last delivery.
    private func deliveryLimitReason(
        _ delivery: AMQPDelivery, session: AMQPSession, attempts: Int, lastError: String?
    ) -> DeadLetterReason {
        .deliveryLimit(
            deliveryCount: AMQPMessageMapping.deliveryCount(delivery) ?? 0, limit: session.deliveryLimit ?? 0,
            attempts: attempts, lastError: lastError)
    }

    /// How the consumer retries: a stream in place, a queue by `retry_via`.
    private var retryRoute: AMQPAction.RetryRoute {
        if source.queueType == .stream { return .inPlace }
        return source.retryVia == .delayQueue ? .delayQueue : .requeue
    }

    /// Consumes the queue; a stream at `position`'s ``StreamPositionTracker/attachOffset``,
    /// else at `stream.start` (`first`, `last` or `next`). Returns the consumer tag and the
    /// stream offset attached at (`nil` for a queue or a keyword start).
    private func startConsuming(_ connection: AMQPConnection, at position: StreamPositionTracker?) async throws
        -> (tag: String, offset: Int64?)
    {
        var arguments = AMQPTable()
        let offset = position?.attachOffset
        if position != nil {
            arguments["x-stream-offset"] = offset.map { .i64($0) } ?? .utf8(source.streamStart.rawValue)
        }
        let tag = try await connection.startConsuming(
            queue: source.queue, consumerTag: "idem-\(consumer.name)-\(UUID().uuidString.prefix(8))",
            arguments: arguments)
        return (tag, offset)
    }

    // MARK: A stream's position

    private func attachDescription(_ position: StreamPositionTracker) -> String {
        position.attachOffset.map(String.init) ?? source.streamStart.rawValue
    }

    /// The stream position stored for the consumer; PostgreSQL out of reach is a
    /// ``StoreUnavailable`` (the supervisor waits for it and starts a new session).
    private func storedPosition() async throws -> Int64? {
        do {
            return try await context.store.storedOffsets(consumer: consumer.name, stream: source.queue)[0]
        } catch {
            logger.warning("could not read the stored position in stream \(source.queue): \(error)")
            throw StoreUnavailable()
        }
    }

    /// Stores the stream position every second while the session runs.
    private func storePositions(_ session: AMQPSession) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.positionInterval)
            await storePosition(session)
        }
    }

    /// Stores the settled stream position when it moved. Best effort: a failure is logged,
    /// and the next session re-reads from the older position (duplicates, answered by the
    /// dedup store).
    private func storePosition(_ session: AMQPSession) async {
        guard let next = session.position?.unstored else { return }
        do {
            try await context.store.storeResumeOffset(
                consumer: consumer.name, stream: source.queue, lane: 0, next: next)
            session.markStored(next)
        } catch {
            logger.warning("could not store the position \(next) in stream \(source.queue): \(error)")
        }
    }

    /// How often ``storePositions(_:)`` stores a stream's position.
    static let positionInterval = Duration.seconds(1)

    /// Follows the operator's pauses and a stream's in-place retries: a pause, or a retry
    /// waiting for its delay, cancels the consumer (the deliveries already received are
    /// processed and settled as usual); a resume, or the end of the delay, consumes again (a
    /// stream at the record to retry, or one past the last received). A failure ends the
    /// session.
    private func followAttachment(_ session: AMQPSession) async {
        let pauses = Task {
            for await _ in context.control.changes() { session.nudge() }
        }
        defer { pauses.cancel() }
        var timer: Task<Void, Never>?
        defer { timer?.cancel() }
        for await _ in session.wakeups {
            timer?.cancel()
            let paused = context.control.isPaused
            let due = session.retryDue
            let waiting = due.map { $0 > .now } ?? false
            var metadata: Logger.Metadata = ["queue": .string(source.queue)]
            do {
                if paused || waiting, let tag = session.consumerTag {
                    try await session.connection.cancelConsuming(consumerTag: tag)
                    session.consumerTag = nil
                    if paused {
                        logger.notice(
                            "paused by an operator: no new deliveries; finishing the ones received", metadata: metadata)
                    } else {
                        logger.debug("retrying in place: stopped reading the stream", metadata: metadata)
                    }
                } else if !paused, !waiting, session.consumerTag == nil {
                    let generation = session.retryGeneration
                    let attachment = try await startConsuming(session.connection, at: session.position)
                    session.attached(consumerTag: attachment.tag, at: attachment.offset, retryGeneration: generation)
                    if let offset = attachment.offset { metadata["stream_offset"] = "\(offset)" }
                    if due == nil {
                        logger.notice("resumed by an operator", metadata: metadata)
                    } else {
                        logger.debug("retrying in place: reading the stream again", metadata: metadata)
                    }
                }
            } catch {
                session.fail(error)
                return
            }
            if let due, waiting {
                timer = Task {
                    try? await Task.sleep(until: due)
                    session.nudge()
                }
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
            // Adaptive batches, as on Kafka: after a batch that filled `batch.size` (a
            // backlog) the next waits to fill `batch.max_size`.
            var target = consumer.batch.size
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
                let wanted = target
                do {
                    deliveries = try await cancelWhenGracefulShutdown {
                        try await session.stream.nextBatch(
                            maxCount: wanted, maxWait: consumer.batch.maxWait, limit: consumer.batch.limit)
                    }
                    target = consumer.batch.nextTarget(after: deliveries.count, target: wanted)
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
                guard !deliveries.isEmpty, session.failure == nil, !Task.isShuttingDownGracefully else {
                    session.abandon(deliveries)
                    continue
                }
                session.received(deliveries)
                let fresh = session.skippingDone(deliveries)
                guard !fresh.isEmpty else { continue }
                metrics.inFlight(fresh.count)
                group.addTask {
                    await run(fresh, processor: processor, session: session)
                    metrics.inFlight(-fresh.count)
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
                "consumers.\(consumer.name).source.amqp.declare: \(error.message); an object with that name exists with other settings: make queue_type (and delivery_limit, or a stream's max_age and max_length_bytes) say what it is, or delete it to have it declared again"
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

    /// A quorum source keeps its dead letters replicated too, and so does a stream, in a
    /// quorum queue (a dead letter is taken off its queue when replayed or discarded, which a
    /// stream cannot do).
    private var deadLetterQueueArguments: AMQPTable {
        source.queueType == .classic ? AMQPTable() : ["x-queue-type": .utf8("quorum")]
    }

    // MARK: A batch

    /// Processes one batch and carries out its decisions; a failure ends the session.
    private func run(_ deliveries: [AMQPDelivery], processor: BatchProcessor, session: AMQPSession) async {
        let messages = deliveries.map { AMQPMessageMapping.message($0, queue: source.queue) }
        let decisions = await processor.process(messages)
        if decisions.contains(where: { $0.disposition == .suspend }) {
            // Ack nothing of this batch; closing the channel hands its deliveries back.
            session.abandon(deliveries)
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
        var doneOffsets: [Int64] = []
        for index in deliveries.indices {
            let delivery = deliveries[index]
            let decision = decisions[index]
            var action = AMQPAction(decision.disposition, retry: session.retryRoute)
            if action == .nackRequeue, session.isLastDelivery(delivery),
                case .retry(_, _, let error) = decision.disposition
            {
                // Requeued, it would be dropped by the broker: a dead letter instead.
                let attempts: Int = if case .handled(_, let attempt) = decision.event { attempt } else { 0 }
                action = .publishToDeadLetterThenAck(
                    deliveryLimitReason(delivery, session: session, attempts: attempts, lastError: error))
            }
            let streamOffset = session.position == nil ? nil : AMQPSession.streamOffset(delivery)
            switch action {
            case .ack:
                if case .acknowledge(.duplicate) = decision.disposition { duplicates += 1 }
                if let streamOffset { doneOffsets.append(streamOffset) }
            case .retryInPlace(let delay):
                guard let streamOffset else {
                    throw AMQPError(
                        kind: .invalidArgument,
                        message: "a delivery from stream \(source.queue) has no x-stream-offset header to retry it at")
                }
                session.retryInPlace(streamOffset, after: delay)
                context.logRetry(messages[index], decision: decision, delay: delay)
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
                try await publishDeadLetter(
                    delivery, headers: context.deadLetterHeaders(messages[index], decision: decision, reason: reason),
                    connection: connection)
                context.logDeadLettered(messages[index], decision: decision, reason: reason)
                deadLettered.append(decision)
                if case .deliveryLimit = reason { metrics.deadLettered(reason.code) }
                if let streamOffset { doneOffsets.append(streamOffset) }
            case .withholdAndPause:
                throw StoreUnavailable()
            }
            settled.append((delivery.deliveryTag, action != .nackRequeue))
        }
        // Confirmed dead letters are recorded before their originals are acked.
        await context.recordDeadLettersConfirmed(deadLettered)
        session.streamDone(doneOffsets)
        session.settle(settled)
        logger.debug("batch done", metadata: ["size": "\(deliveries.count)", "duplicates": "\(duplicates)"])
    }
}
