import Foundation
import IdemConcurrency
import IdemConfig
import IdemCore
import Logging
import Tracing

/// One consumer's path from a batch of messages to a decision per message, whatever the
/// broker: the body limit, the ID chain, the dedup store with the handler in one
/// transaction, and the outcome policy.
///
/// The broker adapters (``BrokerAdapter``) turn the decisions into
/// acks, retries and dead letters.
public struct BatchProcessor: Sendable {
    public let consumer: ConsumerConfig
    public let store: any DedupStore
    public let handler: any MessageHandler
    public let logger: Logger
    /// Lease mode: how many handler calls of a batch run at once (order-keeping batches run
    /// one at a time).
    public var handlerConcurrency = 16
    /// Where the batch's counts and round-trip times go.
    public var metrics: ConsumerMetrics? = nil
    /// The tracer of the consumer spans, one per message (`tracing:`); `nil` exports none.
    public var tracer: (any Tracer)? = nil
    /// The share of messages without a trace context whose span is sampled (`tracing.sample_ratio`).
    public var sampleRatio: Double = 1

    /// The processor of `consumer`'s batches through `store` and `handler`; lease mode runs
    /// up to `handlerConcurrency` handler calls of a batch at once; with a `tracer`, each
    /// message gets a consumer span.
    public init(
        consumer: ConsumerConfig, store: any DedupStore, handler: any MessageHandler, logger: Logger,
        handlerConcurrency: Int = 16, metrics: ConsumerMetrics? = nil, tracer: (any Tracer)? = nil,
        sampleRatio: Double = 1
    ) {
        self.tracer = tracer
        self.sampleRatio = sampleRatio
        self.consumer = consumer
        self.store = store
        self.handler = handler
        self.logger = logger
        self.handlerConcurrency = handlerConcurrency
        self.metrics = metrics
    }

    /// What happens to one message.
    public struct Decision: Sendable {
        /// The ID derived, or `nil` when none could be (poison).
        public var id: MessageID?
        /// What happened, as the outcome policy saw it.
        public var event: ProcessingEvent
        /// What to do about it.
        public var disposition: Disposition
        /// For dead letters: when idem first saw the message, seconds since the Unix epoch.
        public var firstSeen: UInt64
    }

    /// Decides every message of `messages`, in order. The effects of the messages decided
    /// ``Disposition/acknowledge(_:)`` are committed when this returns; when PostgreSQL
    /// cannot be reached, every decision is ``Disposition/suspend``.
    ///
    /// With `keepOrder` (lanes of a log, Kafka partitions), a transient failure ends its lane
    /// (``OrderingLane``) in the batch: the messages after it in that lane are decided as
    /// retries that used no attempt, and took no effect. Lease mode ends the whole batch there
    /// instead, so its batches should hold one lane.
    public func process(_ messages: [Message], keepOrder: Bool = false) async -> [Decision] {
        guard let tracer, !messages.isEmpty else { return await decide(messages, keepOrder: keepOrder) }
        var traced = messages
        let spans = MessageSpans(&traced, consumer: consumer, tracer: tracer, sampleRatio: sampleRatio)
        let decisions = await decide(traced, keepOrder: keepOrder)
        spans.end(decisions)
        return decisions
    }

    /// ``process(_:keepOrder:)`` without spans.
    private func decide(_ messages: [Message], keepOrder: Bool) async -> [Decision] {
        if offsetMode { return await processOffsets(messages) }
        var batch = identify(messages)
        if !batch.requests.isEmpty {
            let requestEvents: [ProcessingEvent]
            if consumer.dedup.mode == .lease {
                requestEvents = await runLeases(batch.requests, keepOrder: keepOrder)
            } else {
                requestEvents = await runTransaction(batch.requests, keepOrder: keepOrder)
            }
            for (position, event) in requestEvents.enumerated() { batch.events[batch.requestIndexes[position]] = event }
        }
        let now = UInt64(Date().timeIntervalSince1970)
        let policy = consumer.outcomePolicy
        var decisions = (0..<messages.count).map { index in
            Decision(
                id: batch.ids[index], event: batch.events[index]!, disposition: policy.decide(batch.events[index]!),
                firstSeen: now)
        }
        await fillFirstSeen(&decisions)
        metrics?.record(decisions.map(\.disposition))
        return decisions
    }

    /// Runs one store call, timing it as `operation` in `idem_dedup_round_trip_seconds`.
    private func timed<T>(
        _ operation: String, _ body: () async throws(DedupStoreError) -> T
    ) async throws(DedupStoreError) -> T {
        let started = ContinuousClock.now
        defer { metrics?.roundTrip(operation, took: .now - started) }
        return try await body()
    }

    /// A batch after the body limit and the ID chain: poison decided, the rest to claim.
    private struct IdentifiedBatch {
        var events: [ProcessingEvent?]
        var ids: [MessageID?]
        var requests: [ClaimRequest] = []
        /// The index in the batch of each request.
        var requestIndexes: [Int] = []
    }

    private func identify(_ messages: [Message]) -> IdentifiedBatch {
        var batch = IdentifiedBatch(
            events: Array(repeating: nil, count: messages.count), ids: Array(repeating: nil, count: messages.count))
        for (index, message) in messages.enumerated() {
            if message.body.count > consumer.maxBodyBytes {
                batch.events[index] = .poison(.bodyTooLarge(size: message.body.count, limit: consumer.maxBodyBytes))
                continue
            }
            switch consumer.identity.derive(message) {
            case .poison(let reason):
                batch.events[index] = .poison(reason)
            case .identified(let id):
                batch.ids[index] = id
                batch.requests.append(ClaimRequest(message: message, id: id))
                batch.requestIndexes.append(index)
            }
        }
        return batch
    }

    /// Transactional mode (docs/design.md): claims and handler in one transaction per batch.
    private func runTransaction(_ requests: [ClaimRequest], keepOrder: Bool) async -> [ProcessingEvent] {
        do {
            let outcomes = try await timed("transaction") { () async throws(DedupStoreError) in
                try await store.processTransactionally(
                    consumer: consumer.name, requests, maxAttempts: consumer.retry.maxAttempts, handler: handler,
                    keepOrder: keepOrder)
            }
            return zip(outcomes, requests).map { ProcessingEvent($0, receivedHash: $1.payloadHash) }
        } catch {
            return Array(repeating: ProcessingEvent(error), count: requests.count)
        }
    }

    /// Lease mode (docs/design.md): claim the batch's IDs as `processing` under a lease, run the
    /// handler for each claimed message outside any transaction (with its ID and fence),
    /// then end every claim in one round trip. A completion refused because another worker
    /// took the row over counts as a live lease: the message comes back later, and finds
    /// the row done. An event per request.
    private func runLeases(_ requests: [ClaimRequest], keepOrder: Bool) async -> [ProcessingEvent] {
        let claims: [ClaimResult]
        do {
            claims = try await timed("claim") { () async throws(DedupStoreError) in
                try await store.claimLeases(consumer: consumer.name, requests, lease: consumer.dedup.lease)
            }
        } catch {
            return Array(repeating: ProcessingEvent(error), count: requests.count)
        }
        var events: [ProcessingEvent?] = requests.indices.map { position in
            if case .claimed = claims[position] { return nil }
            return ProcessingEvent(unclaimed: claims[position], receivedHash: requests[position].payloadHash)
        }
        var results: [Int: HandlerResult] = [:]
        let claimed: [(position: Int, attempt: Int, fence: Int64)] = claims.enumerated().compactMap { position, claim in
            guard case .claimed(let attempt, let fence) = claim else { return nil }
            return (position, attempt, fence)
        }
        let maxAttempts = consumer.retry.maxAttempts
        if keepOrder {
            // One at a time, in order; the first message that will be retried ends the run,
            // and the claims after it are released untouched.
            var stopAt = requests.count
            for (position, event) in events.enumerated() {
                if let event, case .retry = consumer.outcomePolicy.decide(event) {
                    stopAt = position
                    break
                }
            }
            for entry in claimed where entry.position < stopAt {
                let result = await invoke(requests[entry.position], attempt: entry.attempt, fence: entry.fence)
                results[entry.position] = result
                if case .retry = result, entry.attempt < maxAttempts {
                    stopAt = entry.position
                    break
                }
            }
            for (position, event) in events.enumerated() where position > stopAt && event != nil {
                // Decided without the handler but after the message being retried: it
                // waits its turn too.
                if case .retry = consumer.outcomePolicy.decide(event!) { continue }
                events[position] = .deferred
            }
        } else {
            let permits = AsyncSemaphore(permits: max(1, handlerConcurrency))
            await withTaskGroup(of: (Int, HandlerResult).self) { group in
                for entry in claimed {
                    await permits.acquire()
                    let request = requests[entry.position]
                    group.addTask {
                        defer { permits.release() }
                        return (entry.position, await invoke(request, attempt: entry.attempt, fence: entry.fence))
                    }
                }
                for await (position, result) in group { results[position] = result }
            }
        }
        var outcomes: [LeaseOutcome] = []
        for entry in claimed {
            let id = requests[entry.position].id
            switch results[entry.position] {
            case nil:
                outcomes.append(LeaseOutcome(id: id, fence: entry.fence, status: .released))
            case .success:
                outcomes.append(LeaseOutcome(id: id, fence: entry.fence, status: .done))
            case .retry(let reason):
                let status: LeaseOutcome.Status = entry.attempt >= maxAttempts ? .dead : .failed
                outcomes.append(LeaseOutcome(id: id, fence: entry.fence, status: status, error: reason))
            case .reject(let reason):
                outcomes.append(LeaseOutcome(id: id, fence: entry.fence, status: .dead, error: reason))
            }
        }
        let finished: Set<String>
        do {
            finished = try await timed("finish") { () async throws(DedupStoreError) in
                try await store.finishLeases(consumer: consumer.name, outcomes)
            }
        } catch {
            // The effects happened but their rows still read `processing`: the messages
            // stay unacknowledged, and their redeliveries wait for the lease.
            logger.warning("could not record the handler's outcomes: \(error)")
            return Array(repeating: ProcessingEvent(error), count: requests.count)
        }
        for entry in claimed {
            let id = requests[entry.position].id
            guard let result = results[entry.position] else {
                events[entry.position] = .deferred
                continue
            }
            if finished.contains(id.value) {
                events[entry.position] = .handled(result, attempt: entry.attempt)
            } else {
                logger.warning(
                    "another worker took the message over while it was handled: its outcome is not recorded",
                    metadata: [
                        "id": .string(id.value), "fence": "\(entry.fence)",
                        "source": .string(requests[entry.position].message.source.description),
                    ])
                metrics?.staleFenceRefused()
                events[entry.position] = .heldByLiveLease(remaining: nil)
            }
        }
        return events.map { $0! }
    }

    /// Runs the handler for one claimed message; a thrown error is a transient failure.
    private func invoke(_ request: ClaimRequest, attempt: Int, fence: Int64) async -> HandlerResult {
        let context = HandlerContext(
            consumer: consumer.name, id: request.id, fence: fence, attempt: attempt, transaction: nil)
        do {
            return try await handler.handle(request.message, context: context)
        } catch {
            return .retry(String(describing: error))
        }
    }

    /// Whether the consumer is keyed by Kafka offsets: dedup by the partition's stored next
    /// offset instead of a row per message (docs/design.md, offset dedup).
    public var offsetMode: Bool { consumer.identity.sources.first == .offset }

    /// Offset mode: every record goes to the store, poison included, since the partition's
    /// next offset must account for each.
    private func processOffsets(_ messages: [Message]) async -> [Decision] {
        let now = UInt64(Date().timeIntervalSince1970)
        var requests: [ClaimRequest] = []
        var poison: [Int: PoisonReason] = [:]
        var ids: [MessageID] = []
        for (index, message) in messages.enumerated() {
            let id: MessageID
            if case .identified(let derived) = consumer.identity.derive(message) {
                id = derived
            } else {
                id = MessageID(message.source.description, source: .offset)
            }
            if message.body.count > consumer.maxBodyBytes {
                poison[index] = .bodyTooLarge(size: message.body.count, limit: consumer.maxBodyBytes)
            }
            ids.append(id)
            requests.append(ClaimRequest(message: message, id: id))
        }
        let events: [ProcessingEvent]
        do {
            let outcomes = try await timed("offsets") { () async throws(DedupStoreError) in
                try await store.processOffsets(
                    consumer: consumer.name, requests, poison: poison, maxAttempts: consumer.retry.maxAttempts,
                    handler: handler)
            }
            events = zip(outcomes, requests).map { ProcessingEvent($0, receivedHash: $1.payloadHash) }
        } catch {
            events = Array(repeating: ProcessingEvent(error), count: messages.count)
        }
        let policy = consumer.outcomePolicy
        let decisions = messages.indices.map { index in
            Decision(id: ids[index], event: events[index], disposition: policy.decide(events[index]), firstSeen: now)
        }
        metrics?.record(decisions.map(\.disposition))
        return decisions
    }

    /// Dead letters carry when their ID was first seen, from the dedup table.
    private func fillFirstSeen(_ decisions: inout [Decision]) async {
        let deadIDs = decisions.compactMap { decision -> MessageID? in
            guard case .deadLetter = decision.disposition else { return nil }
            return decision.id
        }
        guard !deadIDs.isEmpty else { return }
        do {
            let seen = try await store.firstSeen(consumer: consumer.name, ids: deadIDs)
            for index in decisions.indices {
                if let id = decisions[index].id, let time = seen[id.value] { decisions[index].firstSeen = time }
            }
        } catch {
            logger.debug("first-seen times unavailable, using the current time: \(error)")
        }
    }
}
