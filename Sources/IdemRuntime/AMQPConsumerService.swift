import Foundation
import IdemAMQP
import IdemConfig
import IdemCore
import Logging
import ServiceLifecycle

/// A RabbitMQ consumer: deliveries in, dedup and handler through the store, then ack,
/// retry through a delay queue (or nack-requeue), or dead-letter under publisher confirms.
///
/// Batches are claimed in one transaction each. Nothing is acked before its effect is
/// committed; a dead letter or a delayed retry is published and confirmed before the
/// original is acked. When PostgreSQL is unreachable the consumer closes its channel, so
/// that the broker requeues what it holds, waits for PostgreSQL, and starts again; a lost
/// broker connection is reopened with backoff.
public struct AMQPConsumerService: Service {
    let consumer: ConsumerConfig
    let source: AMQPSourceConfig
    let store: any DedupStore
    let handler: any MessageHandler
    let readiness: StoreReadiness
    let logger: Logger

    /// Creates the service for `consumer`, whose source must be AMQP.
    public init(
        consumer: ConsumerConfig, source: AMQPSourceConfig, store: any DedupStore, handler: any MessageHandler,
        readiness: StoreReadiness, logger: Logger
    ) {
        self.readiness = readiness
        self.consumer = consumer
        self.source = source
        self.store = store
        self.handler = handler
        var logger = logger
        logger[metadataKey: "consumer"] = .string(consumer.name)
        self.logger = logger
    }

    /// Why a session ended early.
    enum SessionEnd: Error {
        /// PostgreSQL could not be reached; nothing of the batch was acked.
        case storeUnavailable(String)
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await readiness.waitUntilReady() }
        } catch {
            return
        }
        var delay = Duration.milliseconds(200)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await runSession { delay = .milliseconds(200) }
                return
            } catch SessionEnd.storeUnavailable(let detail) {
                logger.warning("PostgreSQL unavailable, pausing consumption: \(detail)")
                try await waitForStore()
            } catch is CancellationError {
                return
            } catch {
                logger.warning("RabbitMQ session ended, reconnecting in \(delay): \(error)")
                let wait = delay
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                } catch {
                    return
                }
                delay = min(delay * 2, .seconds(30))
            }
        }
    }

    private func waitForStore() async throws {
        var delay = Duration.milliseconds(200)
        while !Task.isShuttingDownGracefully {
            do {
                try await store.probe()
                logger.info("PostgreSQL is back, resuming consumption")
                return
            } catch {
                let wait = delay
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    // MARK: A session: one connection, from connect to close

    private func runSession(connected: () -> Void) async throws {
        let connection = try await AMQPConnection.connect(
            url: source.url, tls: tlsOptions, connectionName: source.connectionName ?? "idem-\(consumer.name)",
            heartbeat: source.heartbeat, logger: logger)
        var declaredDelayQueues: Set<String> = []
        do {
            try await declareTopology(connection)
            try await connection.setPrefetch(count: source.prefetch)
            try await connection.confirmSelect()
            let tag = try await connection.startConsuming(
                queue: source.queue, consumerTag: "idem-\(consumer.name)-\(UUID().uuidString.prefix(8))")
            logger.info("consuming", metadata: ["queue": .string(source.queue)])
            connected()
            while !Task.isShuttingDownGracefully {
                let batch = try await collectBatch(connection)
                if batch.isEmpty { continue }
                try await process(batch, on: connection, declaredDelayQueues: &declaredDelayQueues)
            }
            try? await connection.cancelConsuming(consumerTag: tag)
            await connection.close()
            logger.info("consumer stopped")
        } catch {
            await connection.close()
            throw error
        }
    }

    private var tlsOptions: AMQPTLSOptions? {
        guard source.url.hasPrefix("amqps://") else { return nil }
        return AMQPTLSOptions(
            caFile: source.tls.caFile, certFile: source.tls.certFile, keyFile: source.tls.keyFile,
            verifyPeer: source.tls.verify, verifyHostname: source.tls.verify)
    }

    private func declareTopology(_ connection: AMQPConnection) async throws {
        guard source.declare else { return }
        _ = try await connection.declareQueue(
            name: source.queue, durable: true, exclusive: false, autoDelete: false, arguments: AMQPTable())
        if source.deadLetterExchange.isEmpty {
            _ = try await connection.declareQueue(
                name: source.deadLetterRoutingKey, durable: true, exclusive: false, autoDelete: false,
                arguments: AMQPTable())
        }
    }

    /// Up to `batch.size` deliveries, waiting at most `batch.maxWait` after the first.
    private func collectBatch(_ connection: AMQPConnection) async throws -> [AMQPDelivery] {
        var batch = try await connection.nextDeliveries(maxCount: consumer.batch.size, timeout: .milliseconds(200))
        guard !batch.isEmpty else { return [] }
        let clock = ContinuousClock()
        let deadline = clock.now + consumer.batch.maxWait
        while batch.count < consumer.batch.size {
            let remaining = deadline - clock.now
            guard remaining > .zero else { break }
            let more = try await connection.nextDeliveries(
                maxCount: consumer.batch.size - batch.count, timeout: remaining)
            if more.isEmpty { break }
            batch += more
        }
        return batch
    }

    // MARK: A batch

    private struct Item {
        var delivery: AMQPDelivery
        var message: Message
        var id: MessageID?
        var event: ProcessingEvent?
        var payloadHash: String
    }

    private func process(
        _ deliveries: [AMQPDelivery], on connection: AMQPConnection, declaredDelayQueues: inout Set<String>
    ) async throws {
        let firstSeen = UInt64(Date().timeIntervalSince1970)
        var items: [Item] = deliveries.map { delivery in
            let message = AMQPMessageMapping.message(delivery, queue: source.queue)
            return Item(delivery: delivery, message: message, id: nil, event: nil, payloadHash: "")
        }
        var requests: [ClaimRequest] = []
        var requestItems: [Int] = []
        for index in items.indices {
            let message = items[index].message
            if message.body.count > consumer.maxBodyBytes {
                items[index].event = .poison(.bodyTooLarge(size: message.body.count, limit: consumer.maxBodyBytes))
                continue
            }
            switch consumer.identity.derive(message) {
            case .poison(let reason):
                items[index].event = .poison(reason)
            case .identified(let id):
                items[index].id = id
                let request = ClaimRequest(message: message, id: id)
                items[index].payloadHash = request.payloadHash
                requests.append(request)
                requestItems.append(index)
            }
        }
        if !requests.isEmpty {
            do {
                let outcomes = try await store.processTransactionally(
                    consumer: consumer.name, requests, maxAttempts: consumer.retry.maxAttempts, handler: handler)
                for (position, outcome) in outcomes.enumerated() {
                    let index = requestItems[position]
                    items[index].event = ProcessingEvent(outcome, receivedHash: items[index].payloadHash)
                }
            } catch {
                let event = ProcessingEvent(error)
                for index in requestItems { items[index].event = event }
            }
        }

        let policy = consumer.outcomePolicy
        let dispositions = items.map { policy.decide($0.event!) }
        if dispositions.contains(.suspend) {
            // Ack nothing; closing the channel hands every unacked delivery back.
            throw SessionEnd.storeUnavailable("the dedup store did not answer")
        }
        var highestAck: UInt64?
        var duplicates = 0
        for (item, disposition) in zip(items, dispositions) {
            let action = AMQPAction(disposition, delayQueues: source.retryVia == .delayQueue)
            if action != .nackRequeue {
                highestAck = max(highestAck ?? 0, item.delivery.deliveryTag)
            }
            switch action {
            case .ack:
                if case .acknowledge(.duplicate) = disposition { duplicates += 1 }
            case .nackRequeue:
                try await connection.nack(deliveryTag: item.delivery.deliveryTag, multiple: false, requeue: true)
            case .publishToDelayQueue(let delay):
                let queue = try await delayQueue(for: delay, on: connection, declared: &declaredDelayQueues)
                var properties = item.delivery.properties
                properties.expiration = String(max(1, Int64((delay.seconds * 1000).rounded())))
                try await connection.publishAndConfirm(
                    exchange: "", routingKey: queue, body: item.delivery.body, properties: properties, mandatory: true)
                if case .retry(_, _, let reason) = disposition {
                    logger.info(
                        "retrying in \(delay)",
                        metadata: ["id": .string(item.id?.value ?? ""), "reason": .string(reason)])
                }
            case .publishToDeadLetterThenAck(let reason):
                var properties = item.delivery.properties
                for (key, value) in DeadLetterHeaders.headers(
                    reason: reason, consumer: consumer.name, source: item.message.source, id: item.id,
                    firstSeen: firstSeen)
                {
                    properties.headers[key] = AMQPMessageMapping.field(value)
                }
                properties.expiration = nil
                try await connection.publishAndConfirm(
                    exchange: source.deadLetterExchange, routingKey: source.deadLetterRoutingKey,
                    body: item.delivery.body, properties: properties, mandatory: true)
                logger.warning(
                    "dead-lettered: \(reason.description)",
                    metadata: ["id": .string(item.id?.value ?? ""), "reason": .string(reason.code)])
            case .withholdAndPause:
                throw SessionEnd.storeUnavailable("the dedup store did not answer")
            }
        }
        // Every delivery of the batch is decided and earlier batches are done: one ack with
        // `multiple` covers them all (those nacked above are no longer outstanding).
        if let highestAck {
            try await connection.ack(deliveryTag: highestAck, multiple: true)
        }
        logger.debug("batch done", metadata: ["size": "\(deliveries.count)", "duplicates": "\(duplicates)"])
    }

    /// The delay queue for `delay`: one per power-of-two bucket of milliseconds, so that a
    /// long delay at the head of a queue never holds up a much shorter one behind it. Each
    /// dead-letters back to the work queue when a message's TTL runs out.
    private func delayQueue(
        for delay: Duration, on connection: AMQPConnection, declared: inout Set<String>
    ) async throws -> String {
        let milliseconds = max(1, Int64((delay.seconds * 1000).rounded()))
        var bucket: Int64 = 1
        while bucket < milliseconds { bucket *= 2 }
        let name = "\(source.queue).delay.\(bucket)ms"
        if !declared.contains(name) {
            var arguments = AMQPTable()
            arguments["x-dead-letter-exchange"] = .utf8("")
            arguments["x-dead-letter-routing-key"] = .utf8(source.queue)
            _ = try await connection.declareQueue(
                name: name, durable: true, exclusive: false, autoDelete: false, arguments: arguments)
            declared.insert(name)
        }
        return name
    }
}
