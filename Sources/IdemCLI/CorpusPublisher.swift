import IdemConsumerKit
import IdemCore
import IdemTerminal
import Logging

/// Sends corpus messages, in the order given, through the publisher of the target's broker
/// adapter (publisher confirms on RabbitMQ, delivery reports on Kafka), in batches and at
/// an optional rate: the engine of `idem publish` and `idem replay`.
struct CorpusPublisher {
    /// Where to send.
    var target: PublishTarget
    /// Messages per second; 0 sends as fast as the broker confirms.
    var rate: Double = 0
    /// How long a message may wait to be taken by the broker.
    var deliveryTimeout: Duration = .seconds(30)
    /// Counts confirmed messages on a terminal.
    var progress: TerminalProgress?
    /// The command's name, for error messages and the connection's name.
    var command = "idem replay"
    /// The adapters, to find the target's.
    var brokers = Registrations.brokers

    /// Messages sent between two waits for the broker, at most `limit` (the publisher's).
    func batchSize(limit: Int) -> Int {
        // A paced send waits at most about 0.1 s for a batch's turn.
        rate > 0 ? max(1, min(limit, Int(rate / 10))) : limit
    }

    /// Sends every message; returns how many the broker took, or throws a runtime failure
    /// (exit 1) after the first that it did not.
    func send(_ messages: [CorpusEntry]) async throws -> Int {
        var logger = Logger(label: "idem")
        logger.logLevel = .warning
        guard let adapter = brokers[target.kind] else {
            throw CLIFailure.config("\(command): no broker adapter of kind \(target.kind) is registered")
        }
        let publisher: any MessagePublisher
        do {
            publisher = try await adapter.openPublisher(
                target, client: command, deliveryTimeout: deliveryTimeout, logger: logger)
        } catch {
            throw failure(error)
        }
        let size = batchSize(limit: publisher.batchLimit)
        let start = ContinuousClock.now
        var index = 0
        do {
            while index < messages.count {
                try await pace(index, since: start)
                let batch = messages[index..<min(messages.count, index + size)]
                try await publisher.send(
                    batch.map { OutgoingMessage(message: $0.message, lane: $0.partition, label: "line \($0.line)") })
                index += batch.count
                progress?.update(done: index)
            }
        } catch is CancellationError {
            await publisher.close()
            throw CancellationError()
        } catch {
            await publisher.close()
            throw failure(error)
        }
        await publisher.close()
        return index
    }

    /// Sleeps until message `index` is due at `rate`.
    private func pace(_ index: Int, since start: ContinuousClock.Instant) async throws {
        guard rate > 0 else { return }
        let due = start + .seconds(Double(index) / rate)
        if due > .now { try await Task.sleep(until: due, clock: .continuous) }
    }

    private func failure(_ error: any Error) -> CLIFailure {
        CLIFailure.runtime("\(command): \(target.shown): \(error)")
    }
}
