import IdemConfig
import IdemCore
import IdemKafka
import Logging

/// `idem check-config`'s look at the Kafka brokers: each topic's retention, read with
/// DescribeConfigs, against the dedup retention of the consumers reading it.
enum KafkaRetentionCheck {
    /// What the check found.
    struct Findings: Sendable {
        /// Dedup retentions shorter than their topic's.
        var warnings: [String] = []
        /// What could not be read, and why.
        var notes: [String] = []
    }

    /// One cluster as the consumers reach it: the brokers and the client properties.
    private struct Cluster: Hashable, Sendable {
        var brokers: String
        var properties: [String: String]
    }

    /// Reads the topics of every Kafka consumer (offset-mode ones excepted: they do not rely
    /// on the group's committed offsets), one request per cluster, all clusters at once, each
    /// within `timeout`.
    static func run(_ config: WorkerConfig, timeout: Duration) async -> Findings {
        var consumersByCluster: [Cluster: [ConsumerConfig]] = [:]
        var order: [Cluster] = []
        for consumer in config.consumers {
            guard case .kafka(let source) = consumer.source, consumer.identity.sources.first != .offset else {
                continue
            }
            // The security, SASL, SSL and socket properties, without the producer's idempotence.
            let cluster = Cluster(
                brokers: source.brokers,
                properties: source.producerProperties.filter { $0.key != "enable.idempotence" })
            if consumersByCluster[cluster] == nil { order.append(cluster) }
            consumersByCluster[cluster, default: []].append(consumer)
        }
        guard !order.isEmpty else { return Findings() }
        // librdkafka's complaints about unreachable brokers become the note, not log lines.
        let logger = {
            var logger = Logger(label: "idem")
            logger.logLevel = .critical
            return logger
        }()
        let described = await withTaskGroup(
            of: (Int, Result<[String: KafkaTopicConfigReader.TopicConfigs], KafkaError>).self
        ) { group in
            for (index, cluster) in order.enumerated() {
                let topics = Array(Set(consumersByCluster[cluster]!.flatMap(\.kafkaTopics))).sorted()
                group.addTask {
                    do throws(KafkaError) {
                        let configs = try await KafkaTopicConfigReader.describe(
                            topics: topics, bootstrapServers: cluster.brokers, configuration: cluster.properties,
                            timeout: timeout, logger: logger)
                        return (index, .success(configs))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results: [Int: Result<[String: KafkaTopicConfigReader.TopicConfigs], KafkaError>] = [:]
            for await (index, result) in group { results[index] = result }
            return results
        }
        var findings = Findings()
        for (index, cluster) in order.enumerated() {
            let consumers = consumersByCluster[cluster]!
            switch described[index]! {
            case .failure(let error):
                if error.message.localizedCaseInsensitiveContains("underflow"), !KafkaLibrary.isAtLeast(2, 16) {
                    findings.warnings.append(
                        "the Kafka brokers at \(cluster.brokers) answer in a way librdkafka \(KafkaLibrary.version) cannot read (\(error.message)); consumers \(consumers.map(\.name).joined(separator: ", ")) will not get far: run idem on a current librdkafka (put its librdkafka.so.1 first on LD_LIBRARY_PATH, as the Docker image does)"
                    )
                }
                let topics = Array(Set(consumers.flatMap(\.kafkaTopics))).sorted().joined(separator: ", ")
                findings.notes.append(
                    "the retention of Kafka topic\(topics.contains(",") ? "s" : "") \(topics) at \(cluster.brokers) could not be read (\(error.message)); check by hand that the dedup retention of \(consumers.map(\.name).joined(separator: ", ")) outlasts it"
                )
            case .success(let topics):
                for consumer in consumers {
                    for topic in consumer.kafkaTopics {
                        findings.add(consumer: consumer, topic: topic, described: topics[topic])
                    }
                }
            }
        }
        return findings
    }
}

extension KafkaRetentionCheck.Findings {
    fileprivate mutating func add(
        consumer: ConsumerConfig, topic: String, described: KafkaTopicConfigReader.TopicConfigs?
    ) {
        switch described {
        case .none:
            notes.append("the broker did not describe topic \(topic) (consumers.\(consumer.name))")
        case .failure(let error):
            notes.append("the retention of topic \(topic) could not be read: \(error.message)")
        case .success(let configs):
            guard let retention = TopicRetention(configs: configs) else {
                notes.append("topic \(topic) has no readable retention.ms in its configuration")
                return
            }
            if let warning = ConfigWarnings.topicRetentionWarning(
                consumer: consumer, topic: topic, retention: retention)
            {
                warnings.append(warning)
            }
        }
    }
}

extension ConsumerConfig {
    /// The Kafka topics the consumer reads; none for a RabbitMQ consumer.
    fileprivate var kafkaTopics: [String] {
        if case .kafka(let source) = source { return source.topics }
        return []
    }
}
