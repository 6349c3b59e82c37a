import ArgumentParser
import Foundation
import IdemAMQP
import IdemTerminal
import Logging

/// A steady load for latency measurements: publishes to a RabbitMQ queue at a fixed rate,
/// each body carrying its send time, so that the consumer's effect can record how long the
/// message took from publish to effect.
struct PacedPublish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paced-publish",
        abstract: "Publish at a steady rate; each body is {\"id\": …, \"sent_us\": microseconds since the epoch}.")

    @OptionGroup var target: AMQPTarget

    @Option(help: "Messages per second.")
    var rate = 5000

    @Option(help: "How long to publish, in seconds.")
    var seconds = 20

    @Option(help: "Prefix of the message IDs (the AMQP message-id and the body's id).")
    var prefix = "lat"

    func validate() throws {
        guard rate > 0, seconds > 0 else { throw ValidationError("--rate and --seconds must be positive") }
    }

    func run() async throws {
        let connection = try await AMQPConnection.connect(
            url: try target.resolvedURL(), connectionName: "idem-bench-paced", logger: target.logger)
        try await connection.confirmSelect()
        let total = rate * seconds
        let clock = ContinuousClock()
        let start = clock.now
        var sent = 0
        var lagging = Duration.zero
        let progress = TerminalProgress("published", total: total)
        // Every millisecond, publish what is due by then: a steady rate, not bursts.
        while sent < total {
            let elapsed = clock.now - start
            let due = min(total, Int((elapsed / .seconds(1)) * Double(rate)) + 1)
            // What is due goes in one call: a call per message cost this generator a thread
            // hop each, CPU that the consumer measured then had to share.
            var messages: [AMQPOutgoingMessage] = []
            messages.reserveCapacity(due - sent)
            while sent < due {
                let micros = Int64(Date().timeIntervalSince1970 * 1_000_000)
                let id = "\(prefix)-\(sent)"
                messages.append(
                    AMQPOutgoingMessage(
                        routingKey: target.queue, body: Array(#"{"id":"\#(id)","sent_us":\#(micros)}"#.utf8),
                        properties: AMQPProperties(deliveryMode: .persistent, messageId: id)))
                sent += 1
            }
            if !messages.isEmpty { try await connection.publish(messages) }
            progress.update(done: sent)
            let behind = (clock.now - start) - .seconds(Double(sent) / Double(rate))
            lagging = max(lagging, behind)
            try await Task.sleep(for: .milliseconds(1))
        }
        // The confirms are awaited once, at the end: waiting for them on the way held the
        // loop for as long as the broker took to write the messages (up to a third of a
        // second), and the burst that caught up afterwards was what the latency measured.
        try await connection.waitForConfirms()
        progress.finish()
        let took = clock.now - start
        await connection.close()
        print(
            #"{"published": \#(total), "seconds": \#(String(format: "%.2f", took / .seconds(1))), "rate": \#(Int(Double(total) / (took / .seconds(1)))), "max_lag_ms": \#(Int(lagging / .milliseconds(1)))}"#
        )
    }
}
