import ArgumentParser

/// `idem ctl consumers|pause|resume`: a running worker's consumers, through its admin API.
struct Ctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "List, pause and resume the consumers of a running worker (its admin API).",
        discussion: """
            Talks to the admin API of a running `idem run` (admin.enabled: true in its \
            configuration). The address and the token come from the same worker.yaml \
            (admin.listen, admin.token or admin.token_file), or from --url and --token-file \
            (or the IDEM_ADMIN_TOKEN environment variable).

            A paused consumer takes no new messages: a RabbitMQ consumer cancels its \
            subscription to the queue, a Kafka consumer pauses every partition it is assigned \
            and stays in its group. What it already took is processed, committed and \
            acknowledged as usual, so a pause loses nothing and leaves no claim behind. A pause \
            lasts until resumed or until the worker restarts.

            Exit codes: 0 done, 1 the worker could not be reached or failed, 2 usage error \
            (unknown consumer, refused token, no admin API configured).
            """,
        subcommands: [CtlConsumers.self, CtlSwitch<CtlPause>.self, CtlSwitch<CtlResume>.self]
    )
}
