import IdemKafka
import IdemKafkaMock
import IdemTestSupport
import Testing

/// ``KafkaTopicAdmin`` against an in-process mock cluster. librdkafka's mock cluster names
/// no controller and implements neither CreateTopics nor DeleteTopics, so what it shows is
/// that a request no broker serves ends with an admin error within its timeout, never a
/// hang; creating topics is exercised against a real cluster by the Kafka end-to-end suites
/// with `IDEM_TEST_KAFKA_EXTERNAL=1`.
@Suite("Kafka topic admin")
struct KafkaTopicAdminTests {
    let logger = makeTestLogger("idem.tests.kafka-admin")

    @Test func aClusterWithoutAControllerIsAnAdminErrorWithinTheTimeout() async throws {
        let cluster = try await KafkaMockCluster.start(brokerCount: 1, logger: logger)
        let started = ContinuousClock.now
        let error = await #expect(throws: KafkaError.self) {
            try await KafkaTopicAdmin.createTopics(
                [.init(name: "admin-made", partitions: 3)], bootstrapServers: cluster.bootstrapServers,
                timeout: .seconds(2), logger: logger)
        }
        #expect(error?.kind == .admin)
        #expect(error?.message.hasPrefix("CreateTopics: ") == true, "\(String(describing: error))")
        await #expect(throws: KafkaError.self) {
            try await KafkaTopicAdmin.deleteTopics(
                ["admin-made"], bootstrapServers: cluster.bootstrapServers, timeout: .seconds(2), logger: logger)
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        await cluster.shutdown()
    }

    @Test func aTopicWithoutPartitionsIsRefusedBeforeAnythingIsSent() async throws {
        let error = await #expect(throws: KafkaError.self) {
            try await KafkaTopicAdmin.createTopics(
                [.init(name: "empty", partitions: 0)], bootstrapServers: "127.0.0.1:1", logger: logger)
        }
        #expect(error?.kind == .invalidArgument)
    }
}
