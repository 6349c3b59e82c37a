import IdemConcurrency
import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemKafka
import Logging

/// Kafka (and Kafka-protocol brokers) as a broker adapter: `source: {kafka: ...}`.
public struct KafkaBrokerAdapter: BrokerAdapter {
    /// The adapter.
    public init() {}

    public var kind: SourceKind { .kafka }

    public var brokerName: String { "Kafka" }

    /// librdkafka; older than 2.16 (the version idem is tested with against a real broker
    /// as well as the mock), advice to run a current one: 2.0 cannot read the ApiVersions
    /// answers of some Kafka-protocol brokers, such as Tansu.
    public var clientLibrary: ClientLibrary? {
        let version = KafkaLibrary.version
        guard !KafkaLibrary.isAtLeast(2, 16) else { return ClientLibrary(name: "librdkafka", version: version) }
        return ClientLibrary(
            name: "librdkafka", version: version,
            advice:
                "librdkafka \(version) is older than 2.16, the version idem is tested with against Tansu as well as the mock cluster; 2.0 cannot read the ApiVersions answer of some Kafka-protocol brokers (Tansu, for one: \"Read underflow\"). idem runs unchanged on a current librdkafka: put its librdkafka.so.1 first on LD_LIBRARY_PATH, as the Docker image does"
        )
    }

    /// From 500 ms, doubling up to 30 s: a new librdkafka consumer rejoins the group, which
    /// costs the group a rebalance.
    public var reconnectBackoff: Backoff { Backoff(initial: .milliseconds(500), maximum: .seconds(30)) }

    public func makeSession(_ context: ConsumerContext) throws -> any ConsumerSession {
        guard case .kafka(let source) = context.consumer.source else {
            throw AdapterMismatch(consumer: context.consumer.name, kind: context.consumer.source.kind, adapter: kind)
        }
        return KafkaConsumerSession(context: context, source: source)
    }

    public func openDeadLetterChannel(for consumer: ConsumerConfig, logger: Logger) async throws
        -> any DeadLetterChannel
    {
        guard case .kafka(let source) = consumer.source else {
            throw AdapterMismatch(consumer: consumer.name, kind: consumer.source.kind, adapter: kind)
        }
        return try await KafkaDeadLetterChannel.open(source: source, logger: logger)
    }

    public var publishURLSyntax: String { "kafka://host:port[,host:port…]/TOPIC" }

    public func publishTarget(for consumer: ConsumerConfig) throws -> PublishTarget {
        guard case .kafka(let source) = consumer.source else {
            throw AdapterMismatch(consumer: consumer.name, kind: consumer.source.kind, adapter: kind)
        }
        let topic = source.topics[0]
        return PublishTarget(
            kind: kind, destination: topic, shown: "topic \(topic) at \(source.brokers)",
            settings: KafkaRecordPublisher.Settings(
                brokers: source.brokers, topic: topic, properties: source.producerProperties))
    }

    public func publishTarget(url: String, queue: String?) throws -> PublishTarget? {
        guard url.lowercased().hasPrefix("kafka://") else { return nil }
        let shown = Redaction.url(url)
        if queue != nil { throw PublishTargetError("--queue goes with an amqp:// target, not with \(shown)") }
        let rest = url.dropFirst("kafka://".count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw PublishTargetError("--to \(shown): expected kafka://host:port[,host:port]/TOPIC")
        }
        let brokers = String(rest[..<slash])
        let topic = String(rest[rest.index(after: slash)...])
        guard !brokers.isEmpty, !brokers.split(separator: ",").contains(where: { !$0.contains(":") }) else {
            throw PublishTargetError("--to \(shown): expected host:port brokers separated by commas")
        }
        guard !topic.isEmpty, !topic.contains("/"),
            topic.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        else {
            throw PublishTargetError(
                "--to \(shown): expected one topic name after the brokers (letters, digits, '.', '_', '-')")
        }
        return PublishTarget(
            kind: kind, destination: topic, shown: "topic \(topic) at \(brokers)",
            settings: KafkaRecordPublisher.Settings(brokers: brokers, topic: topic, properties: [:]))
    }

    public func openPublisher(
        _ target: PublishTarget, client: String, deliveryTimeout: Duration, logger: Logger
    ) async throws -> any MessagePublisher {
        guard let settings = target.settings as? KafkaRecordPublisher.Settings else {
            throw PublishTargetError("\(target.shown) is not a Kafka target")
        }
        return try await KafkaRecordPublisher.open(settings, deliveryTimeout: deliveryTimeout, logger: logger)
    }
}
