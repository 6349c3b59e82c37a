import IdemAMQP
import IdemKafka
import IdemTerminal
import Logging

/// Sends corpus messages, in the order given, to a RabbitMQ queue under publisher confirms
/// or to a Kafka topic waiting for the delivery reports: the engine of `idem publish` and
/// `idem replay`.
struct CorpusPublisher {
    /// Where to send.
    var target: ReplayTarget
    /// Messages per second; 0 sends as fast as the broker confirms.
    var rate: Double = 0
    /// How long a Kafka record may wait for its delivery (`message.timeout.ms`), unless the
    /// target's properties set it.
    var deliveryTimeout: Duration = .seconds(30)
    /// Counts confirmed messages on a terminal.
    var progress: TerminalProgress?
    /// The command's name, for error messages.
    var command = "idem replay"

    /// Messages sent between two waits for confirms or delivery reports.
    var batchSize: Int {
        let most = target.kind == .amqp ? 200 : 1000
        // A paced send waits at most about 0.1 s for a batch's turn.
        return rate > 0 ? max(1, min(most, Int(rate / 10))) : most
    }

    /// Sends every message; returns how many the broker took, or throws a runtime failure
    /// (exit 1) after the first that it did not.
    func send(_ messages: [CorpusEntry]) async throws -> Int {
        var logger = Logger(label: "idem")
        logger.logLevel = .warning
        switch target {
        case .amqp(let url, let queue, let declare):
            return try await publish(messages, url: url, queue: queue, declare: declare, logger: logger)
        case .kafka(let brokers, let topic, let properties):
            return try await produce(messages, brokers: brokers, topic: topic, properties: properties, logger: logger)
        }
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

    private func publish(
        _ messages: [CorpusEntry], url: String, queue: String, declare: Bool, logger: Logger
    ) async throws -> Int {
        let connection: AMQPConnection
        do {
            connection = try await AMQPConnection.connect(url: url, connectionName: command, logger: logger)
        } catch {
            throw failure(error)
        }
        var confirmed = 0
        let start = ContinuousClock.now
        do {
            try await connection.confirmSelect()
            if declare { _ = try await connection.declareQueue(name: queue, durable: true) }
            var index = 0
            while index < messages.count {
                try await pace(index, since: start)
                let batch = messages[index..<min(messages.count, index + batchSize)]
                for entry in batch {
                    // Mandatory: a message no queue takes fails its confirm instead of being lost.
                    try await connection.publish(
                        exchange: "", routingKey: queue, body: entry.message.body, properties: entry.amqpProperties,
                        mandatory: true)
                }
                try await connection.waitForConfirms()
                index += batch.count
                confirmed = index
                progress?.update(done: confirmed)
            }
        } catch {
            await connection.close()
            throw failure(error)
        }
        await connection.close()
        return confirmed
    }

    private func produce(
        _ messages: [CorpusEntry], brokers: String, topic: String, properties: [String: String], logger: Logger
    ) async throws -> Int {
        var configuration = properties
        let timeout = deliveryTimeout.components
        configuration["message.timeout.ms"] =
            configuration["message.timeout.ms"]
            ?? String(timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000)
        // Retries keep their order within a partition.
        configuration["enable.idempotence"] = configuration["enable.idempotence"] ?? "true"
        let producer: KafkaProducer
        do {
            producer = try await KafkaProducer.make(
                bootstrapServers: brokers, configuration: configuration, logger: logger)
        } catch {
            throw failure(error)
        }
        var delivered = 0
        let start = ContinuousClock.now
        var index = 0
        while index < messages.count {
            do {
                try await pace(index, since: start)
            } catch {
                await producer.close()
                throw error
            }
            let batch = messages[index..<min(messages.count, index + batchSize)]
            let records = batch.map { entry in
                KafkaOutgoingRecord(
                    topic: topic, key: entry.message.key, value: entry.message.body, headers: entry.kafkaHeaders,
                    partition: entry.partition)
            }
            let reports = await producer.produce(records)
            for (entry, report) in zip(batch, reports) {
                if case .failure(let error) = report {
                    await producer.close(timeout: .zero)
                    throw CLIFailure.runtime("\(command): \(target.shown): line \(entry.line): \(error)")
                }
            }
            index += batch.count
            delivered = index
            progress?.update(done: delivered)
        }
        await producer.close()
        return delivered
    }
}
