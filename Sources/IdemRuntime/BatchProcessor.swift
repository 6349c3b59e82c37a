import Foundation
import IdemConfig
import IdemCore
import Logging

/// One consumer's path from a batch of messages to a decision per message, whatever the
/// broker: the body limit, the ID chain, the dedup store with the handler in one
/// transaction, and the outcome policy.
///
/// The broker adapters (``AMQPConsumerService``, the Kafka consumer) turn the decisions into
/// acks, retries and dead letters.
struct BatchProcessor: Sendable {
    let consumer: ConsumerConfig
    let store: any DedupStore
    let handler: any MessageHandler
    let logger: Logger

    /// What happens to one message.
    struct Decision: Sendable {
        /// The ID derived, or `nil` when none could be (poison).
        var id: MessageID?
        /// What happened, as the outcome policy saw it.
        var event: ProcessingEvent
        /// What to do about it.
        var disposition: Disposition
        /// For dead letters: when idem first saw the message, seconds since the Unix epoch.
        var firstSeen: UInt64
    }

    /// Decides every message of `messages`, in order. The effects of the messages decided
    /// ``Disposition/acknowledge(_:)`` are committed when this returns; when PostgreSQL
    /// cannot be reached, every decision is ``Disposition/suspend``.
    ///
    /// With `keepOrder` (a Kafka partition), a transient failure ends the batch: the
    /// messages after it are decided as retries that used no attempt, and took no effect.
    func process(_ messages: [Message], keepOrder: Bool = false) async -> [Decision] {
        if offsetMode { return await processOffsets(messages) }
        let now = UInt64(Date().timeIntervalSince1970)
        var events = [ProcessingEvent?](repeating: nil, count: messages.count)
        var ids = [MessageID?](repeating: nil, count: messages.count)
        var requests: [ClaimRequest] = []
        var requestIndexes: [Int] = []
        var hashes: [String] = []
        for (index, message) in messages.enumerated() {
            if message.body.count > consumer.maxBodyBytes {
                events[index] = .poison(.bodyTooLarge(size: message.body.count, limit: consumer.maxBodyBytes))
                continue
            }
            switch consumer.identity.derive(message) {
            case .poison(let reason):
                events[index] = .poison(reason)
            case .identified(let id):
                ids[index] = id
                let request = ClaimRequest(message: message, id: id)
                requests.append(request)
                requestIndexes.append(index)
                hashes.append(request.payloadHash)
            }
        }
        if !requests.isEmpty {
            do {
                let outcomes = try await store.processTransactionally(
                    consumer: consumer.name, requests, maxAttempts: consumer.retry.maxAttempts, handler: handler,
                    keepOrder: keepOrder)
                for (position, outcome) in outcomes.enumerated() {
                    events[requestIndexes[position]] = ProcessingEvent(outcome, receivedHash: hashes[position])
                }
            } catch {
                let event = ProcessingEvent(error)
                for index in requestIndexes { events[index] = event }
            }
        }
        let policy = consumer.outcomePolicy
        var decisions = (0..<messages.count).map { index in
            Decision(id: ids[index], event: events[index]!, disposition: policy.decide(events[index]!), firstSeen: now)
        }
        await fillFirstSeen(&decisions)
        return decisions
    }

    /// Whether the consumer is keyed by Kafka offsets: dedup by the partition's stored next
    /// offset instead of a row per message (DESIGN.md, offset dedup).
    var offsetMode: Bool { consumer.identity.sources.first == .offset }

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
            let outcomes = try await store.processOffsets(
                consumer: consumer.name, requests, poison: poison, maxAttempts: consumer.retry.maxAttempts,
                handler: handler)
            events = zip(outcomes, requests).map { ProcessingEvent($0, receivedHash: $1.payloadHash) }
        } catch {
            events = Array(repeating: ProcessingEvent(error), count: messages.count)
        }
        let policy = consumer.outcomePolicy
        return messages.indices.map { index in
            Decision(id: ids[index], event: events[index], disposition: policy.decide(events[index]), firstSeen: now)
        }
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
