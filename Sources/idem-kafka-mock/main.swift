import ArgumentParser
import Dispatch
import Foundation
import IdemKafka
import IdemKafkaMock
import Logging

/// `name:partitions`, the value of `--topic`.
struct TopicSpec: Sendable, Equatable {
    /// The topic name.
    var name: String
    /// The number of partitions.
    var partitions: Int

    /// Parses `name:partitions`, explaining what is wrong with a bad value.
    init(parsing text: String) throws {
        // ArgumentParser prefixes these with "The value '…' is invalid for '--topic …'".
        let expected = "expected the form name:partitions, e.g. orders:3"
        guard let colon = text.lastIndex(of: ":") else {
            throw ValidationError(expected)
        }
        let name = String(text[..<colon])
        let count = text[text.index(after: colon)...]
        guard !name.isEmpty else {
            throw ValidationError("the topic name is empty; \(expected)")
        }
        guard name.count <= 249,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }),
            name != ".", name != ".."
        else {
            throw ValidationError(
                "a topic name has at most 249 characters from a-z, A-Z, 0-9, '.', '_' and '-'")
        }
        guard let partitions = Int(count), partitions >= 1, partitions <= 10_000 else {
            throw ValidationError(
                "the partition count '\(count)' must be a whole number from 1 to 10000; "
                    + expected)
        }
        self.name = name
        self.partitions = partitions
    }
}

/// A failure after the arguments were accepted (exit status 1, no usage text).
struct StartupError: Error, CustomStringConvertible {
    /// What went wrong.
    var description: String
}

/// Runs librdkafka's mock Kafka cluster until SIGTERM or SIGINT.
struct IdemKafkaMock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idem-kafka-mock",
        abstract: "Run librdkafka's mock Kafka cluster on loopback for tests and development.",
        discussion: """
            Prints the bootstrap address (host:port[,host:port…]) as the only line on \
            standard output once the topics exist, then serves until SIGTERM or SIGINT and \
            exits 0. Logs go to standard error.
            """)

    @Option(help: "The number of brokers (1 to 64).")
    var brokers: Int = 1

    @Option(
        name: .customLong("topic"),
        help: ArgumentHelp(
            "A topic to create, as name:partitions; repeat for more topics.",
            valueName: "name:partitions"),
        transform: TopicSpec.init(parsing:))
    var topics: [TopicSpec] = []

    @Option(help: "Also write the bootstrap address to this file.")
    var bootstrapFile: String?

    @Option(help: "The log level on standard error: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard (1...64).contains(brokers) else {
            throw ValidationError("invalid --brokers \(brokers): expected a number from 1 to 64")
        }
        var seen = Set<String>()
        for topic in topics where !seen.insert(topic.name).inserted {
            throw ValidationError("--topic '\(topic.name)' is given more than once")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError(
                "invalid --log-level '\(logLevel)': expected trace, debug, info, notice, "
                    + "warning, error or critical")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "idem-kafka-mock")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        // Ignore the default actions first so the dispatch sources see the signals.
        let (signals, signalContinuation) = AsyncStream<Int32>.makeStream(
            bufferingPolicy: .bufferingNewest(1))
        let signalQueue = DispatchQueue(label: "idem-kafka-mock.signals")
        let sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: signalQueue)
            source.setEventHandler { signalContinuation.yield(number) }
            source.resume()
            return source
        }

        let cluster = try await KafkaMockCluster.start(brokerCount: brokers, logger: logger)
        do {
            for topic in topics {
                try await cluster.createTopic(name: topic.name, partitions: topic.partitions)
            }
            if let bootstrapFile {
                do {
                    try (cluster.bootstrapServers + "\n").write(
                        toFile: bootstrapFile, atomically: true, encoding: .utf8)
                } catch {
                    throw StartupError(
                        description:
                            "could not write --bootstrap-file '\(bootstrapFile)': \(error.localizedDescription)"
                    )
                }
            }
        } catch {
            await cluster.shutdown()
            throw error
        }
        print(cluster.bootstrapServers)
        fflush(nil)  // all output streams: the line must reach a pipe now, not at exit
        logger.info(
            "Kafka mock cluster ready",
            metadata: [
                "bootstrap_servers": "\(cluster.bootstrapServers)", "brokers": "\(brokers)",
                "topics": "\(topics.map { "\($0.name):\($0.partitions)" })",
            ])

        var iterator = signals.makeAsyncIterator()
        let received = await iterator.next() ?? SIGTERM
        logger.info(
            "stopping Kafka mock cluster",
            metadata: ["signal": "\(received == SIGINT ? "SIGINT" : "SIGTERM")"])
        for source in sources { source.cancel() }
        await cluster.shutdown()
    }
}

// Parse and run explicitly: in top-level code `await IdemKafkaMock.main()` resolves to the
// synchronous `ParsableCommand.main()`.
do {
    var command = try IdemKafkaMock.parseAsRoot()
    if let mock = command as? IdemKafkaMock {
        try await mock.run()
    } else {
        try command.run()  // --help and the like
    }
} catch {
    IdemKafkaMock.exit(withError: error)
}
