import IdemConfig
import IdemCore
import Testing

/// Reading a topic's retention from its configuration, and the check-config warning.
@Suite("Kafka topic retention")
struct TopicRetentionTests {
    static func consumer(retention: Duration, id: [IDSource] = [.key]) -> ConsumerConfig {
        ConsumerConfig(
            name: "events", source: .kafka(KafkaSourceConfig(brokers: "b:9092", topics: ["t"], group: "g")),
            identity: IdentityChain(id), handler: HandlerConfig(kind: .sql(statement: "SELECT 1", parameters: [])),
            dedup: DedupSettings(retention: retention))
    }

    @Test func readsRetentionAndCleanupPolicy() {
        #expect(TopicRetention(configs: ["retention.ms": "604800000"]) == .limited(.seconds(7 * 86400)))
        #expect(
            TopicRetention(configs: ["retention.ms": "86400000", "cleanup.policy": "delete"])
                == .limited(.seconds(86400)))
        #expect(
            TopicRetention(configs: ["retention.ms": "86400000", "cleanup.policy": "compact,delete"])
                == .limited(.seconds(86400)))
        #expect(TopicRetention(configs: ["retention.ms": "-1"]) == .unlimited(reason: "retention.ms=-1"))
        #expect(
            TopicRetention(configs: ["retention.ms": "86400000", "cleanup.policy": "compact"])
                == .unlimited(reason: "cleanup.policy=compact"))
        #expect(TopicRetention(configs: [:]) == nil)
        #expect(TopicRetention(configs: ["retention.ms": "a week"]) == nil)
        #expect(TopicRetention.limited(.seconds(7 * 86400)).description == "7d (retention.ms=604800000)")
    }

    @Test func warnsWhenTheDedupRetentionIsShorterThanTheTopics() throws {
        let short = Self.consumer(retention: .seconds(86400))
        let warning = try #require(
            ConfigWarnings.topicRetentionWarning(
                consumer: short, topic: "t", retention: .limited(.seconds(7 * 86400))))
        #expect(
            warning
                == "consumers.events.dedup.retention (1d) is shorter than the retention of topic t (7d (retention.ms=604800000)): if the group's committed offsets are lost or reset, records still in the topic whose rows were swept would be processed again"
        )
        #expect(
            ConfigWarnings.topicRetentionWarning(
                consumer: short, topic: "t", retention: .unlimited(reason: "retention.ms=-1"))?
                .contains("(unlimited (retention.ms=-1))") == true)
        // As long as the topic's, or longer: nothing to say.
        #expect(
            ConfigWarnings.topicRetentionWarning(consumer: short, topic: "t", retention: .limited(.seconds(86400)))
                == nil)
        #expect(
            ConfigWarnings.topicRetentionWarning(
                consumer: Self.consumer(retention: .seconds(30 * 86400)), topic: "t",
                retention: .limited(.seconds(7 * 86400))) == nil)
        // Offset mode keeps its offsets in PostgreSQL, never swept.
        #expect(
            ConfigWarnings.topicRetentionWarning(
                consumer: Self.consumer(retention: .seconds(86400), id: [.offset]), topic: "t",
                retention: .unlimited(reason: "retention.ms=-1")) == nil)
    }
}
