import ArgumentParser

/// `idem dlq list|show|replay`: a consumer's dead letters.
struct DLQ: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "List, show and replay a consumer's dead letters.",
        discussion: """
            The dead letters of a RabbitMQ consumer are in its dead-letter queue (default \
            <queue>.dlq); those of a Kafka consumer in its dead-letter topics (default \
            <topic>.dlq). list and show change nothing (RabbitMQ messages are read and put back \
            in their place). replay puts messages back on the consumer's source, resets their \
            dedup rows so that they are processed again, and records each replay in the audit \
            table <table>_replays; a copy that was already replayed is refused unless --force.
            """,
        subcommands: [DLQList.self, DLQShow.self, DLQReplay.self]
    )
}
