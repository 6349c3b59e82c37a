import ArgumentParser
import Foundation
import IdemKafka
import IdemTerminal
import Logging

/// Reads a topic as fast as a bare consumer can, doing nothing with the records: the
/// ceiling the broker (and the client) set for any consumer on this machine.
struct KafkaDrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-drain",
        abstract: "Consume --records records of a topic in a new group, doing nothing with them; print records/s.")

    @OptionGroup var target: KafkaTarget

    @Option(help: "Records to read before stopping.")
    var records: Int

    @Option(help: "The most records one poll returns.")
    var pollSize = 5000

    @Option(
        name: .customLong("property"),
        help: "A librdkafka consumer property NAME=VALUE (repeatable).")
    var properties: [String] = []

    @Flag(
        help:
            "Also print produce-to-poll latency from each value's \"sent_us\" (as kafka-paced writes; its warm-up records left out)."
    )
    var latency = false

    func validate() throws {
        guard records > 0, pollSize > 0 else { throw ValidationError("counts must be positive") }
        for property in properties where !property.contains("=") {
            throw ValidationError("--property \(property): expected NAME=VALUE")
        }
    }

    func run() async throws {
        let brokers = try target.resolvedBrokers()
        let topic = target.topic
        let logger = target.logger
        var configuration: [String: String] = [:]
        for property in properties {
            let parts = property.split(separator: "=", maxSplits: 1)
            configuration[String(parts[0])] = String(parts[1])
        }
        let consumer = try await KafkaConsumer.make(
            bootstrapServers: brokers, groupId: "idem-bench-drain-\(UUID().uuidString)",
            configuration: configuration, logger: logger)
        try await consumer.subscribe(topics: [topic])
        let clock = ContinuousClock()
        var start: ContinuousClock.Instant?
        var seen = 0
        var latencies: [Double] = []
        let progress = TerminalProgress("consumed", total: records)
        while seen < records {
            let result = try await consumer.poll(maxRecords: pollSize, timeout: .seconds(1))
            if start == nil, !result.records.isEmpty { start = clock.now }
            seen += result.records.count
            progress.update(done: seen)
            if latency {
                let now = Date().timeIntervalSince1970 * 1_000_000
                for record in result.records {
                    let value = record.value ?? []
                    // kafka-paced's warm-up records were sent before its clock started.
                    guard !SentTime.isWarmUp(value) else { continue }
                    guard let sent = SentTime.micros(in: value) else {
                        throw ValidationError(
                            "record \(record.partition):\(record.offset) has no \"sent_us\" in its value")
                    }
                    latencies.append((now - Double(sent)) / 1000)
                }
            }
            if let rebalance = result.rebalance {
                try await consumer.completeRebalance(rebalance)
                // For scripts that start a producer once the drain reads.
                if case .assign(let partitions) = rebalance {
                    FileHandle.standardError.write(Data("partitions assigned: \(partitions.count)\n".utf8))
                }
            }
        }
        progress.finish()
        let seconds = (clock.now - (start ?? clock.now)) / .seconds(1)
        await consumer.close()
        var line =
            #"{"records": \#(seen), "seconds": \#(String(format: "%.2f", seconds)), "per_second": \#(Int(Double(seen) / seconds))"#
        if latency { line += ", " + SentTime.summary(of: latencies) }
        print(line + "}")
    }
}
