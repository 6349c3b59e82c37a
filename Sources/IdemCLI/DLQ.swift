import ArgumentParser

/// `idem dlq list|groups|show|replay|discard`: a consumer's dead letters.
struct DLQ: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "List, group, show, replay and discard a consumer's dead letters.",
        discussion: """
            The dead letters of a RabbitMQ consumer are in its dead-letter queue (default \
            <queue>.dlq); those of a Kafka consumer in its dead-letter topics (default \
            <topic>.dlq). list and show change nothing (RabbitMQ messages are read and put back \
            in their place). groups gathers them by failure fingerprint (reason and normalized \
            error). replay puts messages back on the consumer's source, resets their dedup rows \
            so that they are processed again, and records each replay in the audit table \
            <table>_replays; discard throws them away, recorded there too; a copy that was \
            already replayed or discarded is refused unless --force. Both take --group.
            """,
        subcommands: [DLQList.self, DLQGroups.self, DLQShow.self, DLQReplay.self, DLQDiscard.self]
    )
}
