import ArgumentParser
import Foundation
import IdemKafka
import IdemTerminal
import Logging

/// Fills a Kafka topic for the throughput benchmark: `--records` records over the
/// partitions, a `--duplicates` fraction of them copies (same `event-id` header and body)
/// of earlier ones, spread over other partitions.
struct KafkaFill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-fill",
        abstract:
            "Produce records with an event-id header, some of them duplicates, as fast as the broker takes them or at a rate."
    )

    @OptionGroup var target: KafkaTarget

    @Option(help: "Records in all.")
    var records = 1_000_000

    @Option(help: "The topic's partition count (records are spread round-robin).")
    var partitions = 8

    @Option(help: "Fraction of the records that repeat an earlier one (0-0.9).")
    var duplicates = 0.2

    @Option(help: "Records per second at most (0: as fast as the broker takes them).")
    var rate = 0

    @Option(help: "The producer's compression.type (none, gzip, snappy, lz4, zstd).")
    var compression = "none"

    func validate() throws {
        guard records > 0, partitions > 0 else { throw ValidationError("counts must be positive") }
        guard (0...0.9).contains(duplicates) else { throw ValidationError("--duplicates must be in 0...0.9") }
    }

    func run() async throws {
        let brokers = try target.resolvedBrokers()
        let topic = target.topic
        let logger = target.logger
        let producer = try await KafkaProducer.make(
            bootstrapServers: brokers,
            configuration: ["linger.ms": "20", "batch.num.messages": "10000", "compression.type": compression],
            logger: logger)
        let distinct = Int((Double(records) * (1 - duplicates)).rounded())
        let progress = TerminalProgress("produced", total: records)
        let clock = ContinuousClock()
        let start = clock.now
        // Every fifth distinct record (for 20 %) is sent again later.
        let stride = duplicates > 0 ? max(1, Int((1 / (duplicates / (1 - duplicates))).rounded())) : Int.max
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            var copies = 0
            for n in 0..<records {
                let id: Int
                if n < distinct {
                    id = n
                } else {
                    id = (copies * stride) % distinct
                    copies += 1
                }
                let partition = Int32(n % partitions)
                if rate > 0, n % 1000 == 0 {
                    let due = start + .seconds(Double(n) / Double(rate))
                    if due > clock.now { try await Task.sleep(until: due) }
                }
                group.addTask {
                    _ = try await producer.produce(
                        topic: topic, value: Array(#"{"n":\#(id),"amount":\#(id % 1000)}"#.utf8),
                        headers: [KafkaHeader(key: "event-id", text: "e-\(id)")], partition: partition)
                }
                inFlight += 1
                if n % 1000 == 999 { progress.update(done: n + 1) }
                if inFlight >= 20_000 {
                    try await group.next()
                    inFlight -= 1
                }
            }
            try await group.waitForAll()
        }
        progress.finish()
        let seconds = (clock.now - start) / .seconds(1)
        await producer.close()
        print(
            #"{"records": \#(records), "distinct": \#(distinct), "seconds": \#(String(format: "%.2f", seconds)), "per_second": \#(Int(Double(records) / seconds))}"#
        )
    }
}
