import ArgumentParser
import Foundation
import IdemAMQP
import IdemTerminal
import Logging

/// Drains a RabbitMQ queue as fast as a bare consumer can: manual acknowledgements, one
/// multiple-ack per batch of deliveries, nothing done with the messages. The ceiling the
/// broker (and the client library) set for any consumer of that queue on this machine.
struct AMQPDrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amqp-drain",
        abstract:
            "Consume --messages messages of a queue with multiple acks, doing nothing with them; print messages/s."
    )

    @OptionGroup var target: AMQPTarget

    @Option(help: "Messages to take before stopping.")
    var messages: Int

    @Option(help: "Unacknowledged deliveries in flight (basic.qos).")
    var prefetch = 2000

    @Option(help: "Deliveries per multiple ack.")
    var ackEvery = 500

    @Flag(
        help:
            "Also print publish-to-receive latency from each body's \"sent_us\" (microseconds since the epoch, as paced-publish writes)."
    )
    var latency = false

    func validate() throws {
        guard messages > 0, ackEvery > 0 else { throw ValidationError("counts must be positive") }
        guard (1...65535).contains(prefetch) else { throw ValidationError("--prefetch must be from 1 to 65535") }
    }

    func run() async throws {
        let connection = try await AMQPConnection.connect(
            url: try target.resolvedURL(), connectionName: "idem-bench-drain", logger: target.logger)
        // Declared (durable, as idem's `declare: true` does), so that the drain can start
        // before its publisher.
        try await connection.declareQueue(name: target.queue)
        try await connection.setPrefetch(count: prefetch)
        let tag = try await connection.startConsuming(queue: target.queue)
        // For scripts that start a publisher once the drain consumes.
        FileHandle.standardError.write(Data("consuming \(target.queue)\n".utf8))
        let clock = ContinuousClock()
        var start: ContinuousClock.Instant?
        var taken = 0
        var unacked = 0
        var lastTag: UInt64 = 0
        var latencies: [Double] = []
        if latency { latencies.reserveCapacity(messages) }
        while taken < messages {
            let deliveries = try await connection.nextDeliveries(
                maxCount: min(ackEvery - unacked, messages - taken), timeout: .seconds(30))
            guard let last = deliveries.last else {
                throw ValidationError("no delivery for 30 s after \(taken) of \(messages) messages")
            }
            if start == nil { start = clock.now }
            if latency {
                let now = Date().timeIntervalSince1970 * 1_000_000
                for delivery in deliveries {
                    guard let sent = SentTime.micros(in: delivery.body) else {
                        throw ValidationError("delivery \(taken + 1) has no \"sent_us\" in its body")
                    }
                    latencies.append((now - Double(sent)) / 1000)
                }
            }
            taken += deliveries.count
            unacked += deliveries.count
            lastTag = last.deliveryTag
            if unacked >= ackEvery || taken >= messages {
                try await connection.ack(deliveryTag: lastTag, multiple: true)
                unacked = 0
            }
        }
        let seconds = (clock.now - (start ?? clock.now)) / .seconds(1)
        try await connection.cancelConsuming(consumerTag: tag)
        await connection.close()
        var line =
            #"{"messages": \#(taken), "seconds": \#(String(format: "%.3f", seconds)), "per_second": \#(Int(Double(taken) / max(seconds, 1e-9)))"#
        if latency { line += ", " + SentTime.summary(of: latencies) }
        print(line + "}")
    }
}
