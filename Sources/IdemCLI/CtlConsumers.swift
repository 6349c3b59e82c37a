import ArgumentParser
import IdemCore

/// `idem ctl consumers`: each consumer of a running worker, its state, pause, lag and
/// messages in flight.
struct CtlConsumers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consumers",
        abstract: "List the consumers of a running worker: state, pause, lag and messages in flight.",
        discussion: """
            LAG is what the consumer has not processed yet: the sum over its partitions of the \
            high watermark minus the offset below which every record is done (Kafka), or the \
            messages ready in its queue (RabbitMQ, read every 5 seconds); '-' until the broker \
            first reported it.
            """
    )

    @OptionGroup var options: CtlOptions

    @Flag(help: "Print the admin API's JSON, for scripts.")
    var json = false

    func run() async throws {
        let answer = try await options.send(.GET, "/admin/consumers")
        if json {
            print(answer.jsonText)
            return
        }
        guard case .array(let consumers)? = answer[member: "consumers"] else {
            throw CLIFailure.runtime("idem ctl: the admin API's answer has no consumers list")
        }
        var rows = [["CONSUMER", "BROKER", "STATE", "PAUSED", "LAG", "IN FLIGHT"]]
        for consumer in consumers {
            rows.append(Self.row(consumer))
        }
        for line in HumanFormat.table(rows, leftAligned: [0, 1, 2, 3]) { print(line) }
    }

    /// A consumer's line of the table.
    static func row(_ consumer: JSONValue) -> [String] {
        func text(_ key: String) -> String { consumer[member: key]?.scalarText ?? "-" }
        let paused = consumer[member: "paused_since"]?.scalarText.map { "since \($0)" } ?? "no"
        return [text("name"), text("broker"), text("state"), paused, text("lag"), text("in_flight")]
    }
}
