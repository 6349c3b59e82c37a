import Testing

@testable import IdemConfig

/// Kafka group membership settings: static member IDs, session timeout and heartbeat.
@Suite("Kafka group membership settings")
struct KafkaMembershipTests {
    static func yaml(_ kafka: String, second: String? = nil) -> String {
        var text = """
            postgres: {url: "postgres://x@h/db"}
            consumers:
              - name: k
                source: {kafka: {brokers: "b:9092", topics: [t], group: g\(kafka)}}
                handler: {swift: H}
            """
        if let second {
            text += """

                  - name: k2
                    source: {kafka: {brokers: "b:9092", topics: [u], group: g\(second)}}
                    handler: {swift: H}
                """
        }
        return text
    }

    static func kafka(_ yaml: String, env: [String: String] = [:]) throws -> KafkaSourceConfig {
        let config = try ConfigLoader.parse(yaml: yaml, file: "worker.yaml", environment: env)
        guard case .kafka(let kafka) = config.consumers[0].source else { throw ConfigError(issues: []) }
        return kafka
    }

    static func messages(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "worker.yaml", environment: [:])
            return []
        } catch {
            return error.issues.map { "\($0.path): \($0.message)" }
        }
    }

    @Test("by default membership is dynamic, with a 10 s session timeout and a 3 s heartbeat")
    func defaults() throws {
        let properties = try Self.kafka(Self.yaml("")).consumerProperties
        #expect(properties["session.timeout.ms"] == "10000")
        #expect(properties["heartbeat.interval.ms"] == "3000")
        #expect(properties["group.instance.id"] == nil)
    }

    @Test("group_instance_id takes the environment, e.g. a StatefulSet pod's name")
    func staticMember() throws {
        let kafka = try Self.kafka(
            Self.yaml(", group_instance_id: \"${POD_NAME}\", session_timeout: 30s, heartbeat_interval: 2s"),
            env: ["POD_NAME": "idem-worker-1"])
        #expect(kafka.groupInstanceID == "idem-worker-1")
        #expect(kafka.consumerProperties["group.instance.id"] == "idem-worker-1")
        #expect(kafka.consumerProperties["session.timeout.ms"] == "30000")
        #expect(kafka.consumerProperties["heartbeat.interval.ms"] == "2000")
    }

    @Test("properties that set the same thing still work alone, and conflict with the setting")
    func propertiesAndSettings() throws {
        let alone = try Self.kafka(Self.yaml(", properties: {session.timeout.ms: \"20000\"}"))
        #expect(alone.consumerProperties["session.timeout.ms"] == "20000")
        let both = Self.messages(Self.yaml(", session_timeout: 20s, properties: {session.timeout.ms: \"20000\"}"))
        #expect(both.contains { $0.contains("'session.timeout.ms' is also set by session_timeout") }, "\(both)")
    }

    @Test("a heartbeat longer than a third of the session timeout, or a bad member ID, is refused with its key")
    func refused() {
        let heartbeat = Self.messages(Self.yaml(", session_timeout: 6s, heartbeat_interval: 3s"))
        #expect(
            heartbeat.contains {
                $0.contains("heartbeat_interval") && $0.contains("at most a third of the session timeout")
            }, "\(heartbeat)")
        let spaced = Self.messages(Self.yaml(", group_instance_id: \"worker 1\""))
        #expect(spaced.contains { $0.contains("group_instance_id") && $0.contains("without spaces") }, "\(spaced)")
    }

    @Test("two consumers in one group with the same static member ID are refused")
    func sameMemberTwice() {
        let messages = Self.messages(
            Self.yaml(", group_instance_id: w1", second: ", group_instance_id: w1"))
        #expect(messages.contains { $0.contains("both member 'w1' of Kafka group 'g'") }, "\(messages)")
    }
}
