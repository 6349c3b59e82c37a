import Foundation
import IdemConfig
import IdemCore
import Logging
import Tracing

/// What the worker hands a broker adapter for one consumer: its configuration, the dedup
/// store, its handler, where it reports, and the helpers every adapter needs in the same
/// form (the batch processor, dead-letter headers, the logs of retries and dead letters).
public struct ConsumerContext: Sendable {
    /// The consumer's configuration; its source is of the adapter's kind.
    public let consumer: ConsumerConfig
    /// The dedup store (`processed_messages`).
    public let store: any DedupStore
    /// The consumer's handler, measured.
    public let handler: any MessageHandler
    /// Opens once the store is reached and its schema checked.
    public let readiness: StoreReadiness
    /// The consumer's metrics.
    public let metrics: ConsumerMetrics
    /// What `/readyz` reports.
    public let health: HealthState
    /// Whether an operator paused the consumer; its sessions follow it.
    public let control: ConsumerControl
    /// The logger, with the consumer's name as metadata.
    public let logger: Logger
    /// The tracer of the consumer spans (`tracing:`), `nil` when spans are not exported.
    public let tracer: (any Tracer)?
    /// The share of messages without a trace context whose span is sampled.
    public let sampleRatio: Double

    /// The context of `consumer`; `logger` gets its name as `consumer` metadata; `control`
    /// is its pause switch (by default one of its own that nobody pauses); with a `tracer`,
    /// each message gets a consumer span.
    public init(
        consumer: ConsumerConfig, store: any DedupStore, handler: any MessageHandler, readiness: StoreReadiness,
        metrics: ConsumerMetrics, health: HealthState, control: ConsumerControl = ConsumerControl(), logger: Logger,
        tracer: (any Tracer)? = nil, sampleRatio: Double = 1
    ) {
        self.tracer = tracer
        self.sampleRatio = sampleRatio
        self.consumer = consumer
        self.store = store
        self.handler = handler
        self.readiness = readiness
        self.metrics = metrics
        self.health = health
        self.control = control
        var logger = logger
        logger[metadataKey: "consumer"] = .string(consumer.name)
        self.logger = logger
    }

    /// The consumer's path from a batch of messages to decisions.
    public func makeBatchProcessor() -> BatchProcessor {
        BatchProcessor(
            consumer: consumer, store: store, handler: handler, logger: logger,
            handlerConcurrency: consumer.handler.dispatchLimit(batchSize: consumer.batch.size), metrics: metrics,
            tracer: tracer, sampleRatio: sampleRatio)
    }

    /// The `x-idem-*` headers of the dead letter of `message`, decided `decision`.
    public func deadLetterHeaders(
        _ message: Message, decision: BatchProcessor.Decision, reason: DeadLetterReason
    ) -> [(String, HeaderValue)] {
        DeadLetterHeaders.headers(
            reason: reason, consumer: consumer.name, source: message.source, id: decision.id,
            firstSeen: decision.firstSeen, deadLetteredAt: UInt64(Date().timeIntervalSince1970))
    }

    /// Logs that `message` was dead-lettered (once the broker confirmed it), to
    /// `destination` when the adapter names one.
    public func logDeadLettered(
        _ message: Message, decision: BatchProcessor.Decision, reason: DeadLetterReason, destination: String? = nil
    ) {
        logger.warning(
            "dead-lettered\(destination.map { " to \($0)" } ?? ""): \(reason.description)",
            metadata: Self.metadata(
                message,
                [
                    "id": .string(decision.id?.value ?? ""), "reason": .string(reason.code),
                    "source": .string(message.source.description),
                ]))
    }

    /// Records in the store that the broker confirmed the dead letters of `decisions`, so
    /// that their redeliveries are acknowledged instead of dead-lettered again. Best effort:
    /// when the store does not answer, a redelivery is dead-lettered once more (logged).
    public func recordDeadLettersConfirmed(_ decisions: [BatchProcessor.Decision]) async {
        let ids = decisions.compactMap { decision -> MessageID? in
            guard case .deadLetter = decision.disposition else { return nil }
            return decision.id
        }
        guard !ids.isEmpty else { return }
        do {
            try await store.confirmDeadLetters(consumer: consumer.name, ids: ids)
        } catch {
            logger.warning(
                "could not record that \(ids.count) dead letter(s) were confirmed; a redelivery of one is dead-lettered again: \(error)"
            )
        }
    }

    /// Logs a retry of `message` after `delay`; with `attemptsOnly`, only when its decision
    /// counts as an attempt (an ordered batch's messages put back behind a failure are not
    /// logged one by one).
    public func logRetry(
        _ message: Message, decision: BatchProcessor.Decision, delay: Duration, attemptsOnly: Bool = false
    ) {
        guard case .retry(_, let countsAsAttempt, let reason) = decision.disposition,
            countsAsAttempt || !attemptsOnly
        else { return }
        logger.info(
            "retrying in \(delay)",
            metadata: Self.metadata(
                message,
                [
                    "id": .string(decision.id?.value ?? ""), "reason": .string(reason),
                    "source": .string(message.source.description),
                ]))
    }

    /// `metadata` of a line about `message`, with `trace_id` when the message carries a W3C
    /// trace context, so that the line can be found from the producer's trace.
    static func metadata(_ message: Message, _ metadata: Logger.Metadata) -> Logger.Metadata {
        guard let trace = message.trace else { return metadata }
        var metadata = metadata
        metadata["trace_id"] = .string(trace.traceID)
        return metadata
    }

    /// Waits until the store answers again, probing it with backoff; returns at once when
    /// it already does. Logs and counts the store's return. Throws `CancellationError`
    /// when cancelled first.
    public func waitForStore() async throws {
        var backoff = StoreProbe.backoff
        while true {
            try Task.checkCancellation()
            do {
                try await store.probe()
                logger.info("PostgreSQL is back, resuming consumption")
                metrics.reconnected("postgres")
                return
            } catch {
                try await Task.sleep(for: backoff.next())
            }
        }
    }
}
