import IdemConsumerKit
import IdemCore
import ServiceLifecycle

/// A session of the ``InMemoryBroker``: takes batches, runs them through the consumer's
/// ``BatchProcessor``, and settles each decision as a broker adapter does.
struct InMemoryConsumerSession: ConsumerSession {
    let broker: InMemoryBroker
    let context: ConsumerContext

    func run(_ status: ConsumerStatus) async throws {
        try broker.connect()
        status.connected()
        let processor = context.makeBatchProcessor()
        while !Task.isShuttingDownGracefully {
            try Task.checkCancellation()
            let batch = broker.take(context.consumer.batch.size)
            if batch.isEmpty {
                try await Task.sleep(for: .milliseconds(1))
                continue
            }
            let decisions = await processor.process(batch, keepOrder: broker.ordered)
            var storeAway = false
            var settlements: [InMemoryBroker.Settlement] = []
            for (message, decision) in zip(batch, decisions) {
                switch decision.disposition {
                case .acknowledge:
                    settlements.append(.acknowledge)
                case .retry(let delay, _, _):
                    context.logRetry(message, decision: decision, delay: delay, attemptsOnly: broker.ordered)
                    settlements.append(.retry(after: delay))
                case .deadLetter(let reason):
                    let headers = context.deadLetterHeaders(message, decision: decision, reason: reason)
                    settlements.append(.deadLetter(headers, reason))
                case .suspend:
                    storeAway = true
                    settlements.append(.giveBack)
                }
            }
            // The in-memory broker takes dead letters and acknowledgements at once.
            try broker.settle(batch, settlements)
            if !storeAway { await context.recordDeadLettersConfirmed(decisions) }
            for (message, decision) in zip(batch, decisions) {
                if case .deadLetter(let reason) = decision.disposition {
                    context.logDeadLettered(message, decision: decision, reason: reason, destination: "memory-dlq")
                }
            }
            if storeAway { throw StoreUnavailable() }
        }
    }
}
