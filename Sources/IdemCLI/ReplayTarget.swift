import IdemConfig
import IdemCore

/// Where `idem replay` (and `idem publish`) sends messages: a RabbitMQ queue or a Kafka
/// topic, given as a URL or taken from a consumer of the configuration.
enum ReplayTarget: Sendable {
    /// A queue, through the default exchange; `declare` declares it (durable) first.
    case amqp(url: String, queue: String, declare: Bool)
    /// A topic; `properties` are librdkafka producer properties.
    case kafka(brokers: String, topic: String, properties: [String: String])

    /// The broker kind.
    var kind: SourceKind {
        switch self {
        case .amqp: return .amqp
        case .kafka: return .kafka
        }
    }

    /// The queue (AMQP) and topic (Kafka) a corpus line's source defaults to.
    var queue: String {
        if case .amqp(_, let queue, _) = self { return queue }
        return ""
    }

    /// The topic, for Kafka.
    var topic: String {
        if case .kafka(_, let topic, _) = self { return topic }
        return ""
    }

    /// Where the messages go, with any password shown as `***`.
    var shown: String {
        switch self {
        case .amqp(let url, let queue, _): return "queue \(queue) at \(Redaction.url(url))"
        case .kafka(let brokers, let topic, _): return "topic \(topic) at \(brokers)"
        }
    }

    /// The target of a consumer: its queue, declared when the consumer declares it, or its
    /// first topic, with the consumer's producer properties.
    init(consumer: ConsumerConfig) {
        switch consumer.source {
        case .amqp(let amqp): self = .amqp(url: amqp.url, queue: amqp.queue, declare: amqp.declare)
        case .kafka(let kafka):
            self = .kafka(brokers: kafka.brokers, topic: kafka.topics[0], properties: kafka.producerProperties)
        }
    }

    /// Parses `--to`: `amqp[s]://user:password@host:port/vhost` (with `queue`),
    /// `kafka://host:port[,host:port…]/TOPIC`, or `consumer:NAME` (resolved with `config`).
    ///
    /// - Throws: ``CLIFailure`` (exit 2) saying what is wrong, the password redacted.
    static func parse(_ text: String, queue: String?, config: () throws -> WorkerConfig) throws -> ReplayTarget {
        let shown = Redaction.url(text)
        if text.hasPrefix("consumer:") {
            let name = String(text.dropFirst("consumer:".count))
            let loaded = try config()
            let consumer = try ConfigOptions.consumer(name, in: loaded, context: "--to \(text)")
            if queue != nil { throw CLIFailure.config("--queue goes with an amqp:// target, not with \(text)") }
            return ReplayTarget(consumer: consumer)
        }
        let lowered = text.lowercased()
        if lowered.hasPrefix("amqp://") || lowered.hasPrefix("amqps://") {
            guard let queue, !queue.isEmpty else {
                throw CLIFailure.config("--to \(shown): an AMQP target needs --queue NAME")
            }
            return .amqp(url: text, queue: queue, declare: false)
        }
        if lowered.hasPrefix("kafka://") {
            if queue != nil { throw CLIFailure.config("--queue goes with an amqp:// target, not with \(shown)") }
            let rest = text.dropFirst("kafka://".count)
            guard let slash = rest.firstIndex(of: "/") else {
                throw CLIFailure.config("--to \(shown): expected kafka://host:port[,host:port]/TOPIC")
            }
            let brokers = String(rest[..<slash])
            let topic = String(rest[rest.index(after: slash)...])
            guard !brokers.isEmpty, !brokers.split(separator: ",").contains(where: { !$0.contains(":") }) else {
                throw CLIFailure.config("--to \(shown): expected host:port brokers separated by commas")
            }
            guard !topic.isEmpty, !topic.contains("/"),
                topic.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
            else {
                throw CLIFailure.config(
                    "--to \(shown): expected one topic name after the brokers (letters, digits, '.', '_', '-')")
            }
            return .kafka(brokers: brokers, topic: topic, properties: [:])
        }
        throw CLIFailure.config(
            "--to \(shown): expected amqp://user:password@host:port/vhost with --queue NAME, kafka://host:port/TOPIC or consumer:NAME"
        )
    }
}
