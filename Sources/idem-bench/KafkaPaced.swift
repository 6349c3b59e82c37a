import ArgumentParser
import Foundation
import IdemKafka
import IdemTerminal
import Logging

/// A steady Kafka load for latency measurements: produces at a fixed rate, each value
/// carrying its send time, so that the consumer's effect can record how long the record
/// took from produce to effect.
struct KafkaPaced: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-paced",
        abstract: "Produce at a steady rate; each value is {\"id\": …, \"sent_us\": microseconds since the epoch}.")

    @OptionGroup var target: KafkaTarget

    @Option(help: "The topic's partition count (records are spread round-robin).")
    var partitions = 8

    @Option(help: "Records per second.")
    var rate = 10_000

    @Option(help: "How long to produce, in seconds.")
    var seconds = 20

    @Option(help: "The producer's linger.ms: how long it gathers records into one batch.")
    var lingerMs = 5

    @Option(help: "The prefix of the records' IDs (the event-id header): PREFIX-0, PREFIX-1, ….")
    var prefix = "lat"

    @Option(
        help: """
            Records produced first, one per partition in turn (IDs PREFIX-warm-N), whose delivery             is awaited before the clock starts: a new producer's first records otherwise wait             for its connections and metadata, which is not what the consumer's latency measures.
            """)
    var warmUp = 0

    func validate() throws {
        guard rate > 0, seconds > 0, partitions > 0 else { throw ValidationError("values must be positive") }
    }

    func run() async throws {
        let brokers = try target.resolvedBrokers()
        let topic = target.topic
        let logger = target.logger
        let producer = try await KafkaProducer.make(
            bootstrapServers: brokers, configuration: ["linger.ms": String(lingerMs)], logger: logger)
        for n in 0..<warmUp {
            let micros = Int64(Date().timeIntervalSince1970 * 1_000_000)
            _ = try await producer.produce(
                topic: topic, value: Array(#"{"id":"\#(prefix)-warm-\#(n)","sent_us":\#(micros)}"#.utf8),
                headers: [KafkaHeader(key: "event-id", text: "\(prefix)-warm-\(n)")], partition: Int32(n % partitions))
        }
        let total = rate * seconds
        let clock = ContinuousClock()
        let start = clock.now
        var sent = 0
        var lagging = Duration.zero
        let progress = TerminalProgress("produced", total: total)
        // A discarding group: finished produce tasks are reaped as they complete.
        try await withThrowingDiscardingTaskGroup { group in
            // Every millisecond, produce what is due by then: a steady rate, not bursts. The
            // records due together are enqueued in one call, and their reports awaited in
            // one task: a task per record cost this generator half a core at 50,000/s,
            // which the consumer measured then had to share.
            while sent < total {
                let due = min(total, Int(((clock.now - start) / .seconds(1)) * Double(rate)) + 1)
                var records: [KafkaOutgoingRecord] = []
                records.reserveCapacity(due - sent)
                while sent < due {
                    let micros = Int64(Date().timeIntervalSince1970 * 1_000_000)
                    let id = "\(prefix)-\(sent)"
                    records.append(
                        KafkaOutgoingRecord(
                            topic: topic, value: Array(#"{"id":"\#(id)","sent_us":\#(micros)}"#.utf8),
                            headers: [KafkaHeader(key: "event-id", text: id)], partition: Int32(sent % partitions)))
                    sent += 1
                }
                if !records.isEmpty {
                    group.addTask {
                        for report in await producer.produce(records) { _ = try report.get() }
                    }
                }
                progress.update(done: sent)
                lagging = max(lagging, (clock.now - start) - .seconds(Double(sent) / Double(rate)))
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        progress.finish()
        let took = (clock.now - start) / .seconds(1)
        await producer.close()
        print(
            #"{"produced": \#(total), "seconds": \#(String(format: "%.2f", took)), "rate": \#(Int(Double(total) / took)), "max_lag_ms": \#(Int(lagging / .milliseconds(1)))}"#
        )
    }
}
