import Foundation
import IdemKafka
import IdemTestSupport
import Logging
import Testing

/// Produces and consumes through the mock Kafka cluster that `scripts/services.sh`
/// started (`IDEM_TEST_KAFKA_BROKERS`), in another process.
@Suite("Kafka client against the service broker")
struct KafkaSmokeTests {
    let logger = makeTestLogger("idem.tests.kafka")

    @Test("3 records produced to 'smoke' come back in order in a consumer group")
    func produceAndConsume() async throws {
        let brokers = try ServiceEnvironment.kafkaBrokers()
        // The broker script creates `smoke` with one partition; if it did not, the mock
        // auto-creates it with four on first produce. One key keeps the records in one
        // partition either way, so their order is defined.
        try await KafkaRoundTrip.run(
            bootstrapServers: brokers, topic: "smoke", logger: logger)
    }
}

/// The produce/consume round trip shared by the service-broker and in-process tests.
enum KafkaRoundTrip {
    /// Produces three keyed records with a run header, consumes them back in a fresh
    /// group, checks order, key, value and headers, commits, and returns the group.
    @discardableResult
    static func run(
        bootstrapServers: String, topic: String, logger: Logger
    ) async throws -> String {
        let run = UUID().uuidString.lowercased()
        let producer = try await KafkaProducer.make(
            bootstrapServers: bootstrapServers,
            configuration: ["message.timeout.ms": "15000", "acks": "all"],
            logger: logger)
        var reports: [KafkaDeliveryReport] = []
        for index in 0..<3 {
            let report = try await producer.produce(
                topic: topic, key: Array("smoke-key".utf8), value: Array("record-\(index)".utf8),
                headers: [KafkaHeader(key: "x-run", text: run), KafkaHeader(key: "x-null", value: nil)])
            reports.append(report)
        }
        try await producer.flush(timeout: .seconds(5))
        await producer.close()
        #expect(reports.allSatisfy { $0.topic == topic })
        #expect(Set(reports.map(\.partition)).count == 1)
        #expect(reports.map(\.offset) == [reports[0].offset, reports[0].offset + 1, reports[0].offset + 2])

        let group = "idem-smoke-\(run)"
        let consumer = try await KafkaConsumer.make(
            bootstrapServers: bootstrapServers, groupId: group,
            configuration: ["session.timeout.ms": "6000"], logger: logger)
        try await consumer.subscribe(topics: [topic])
        var ours: [KafkaRecord] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while ours.count < 3, ContinuousClock.now < deadline {
            guard let record = try await consumer.poll(timeout: .milliseconds(500)) else {
                continue
            }
            // Earlier runs left records in a shared topic; keep only this run's.
            if record.header("x-run") == Array(run.utf8) { ours.append(record) }
        }
        try #require(ours.count == 3, "consumed \(ours.count) of this run's 3 records in 30 s")
        #expect(ours.map { String(decoding: $0.value ?? [], as: UTF8.self) } == ["record-0", "record-1", "record-2"])
        #expect(ours.map(\.offset) == reports.map(\.offset))
        #expect(ours.map(\.partition) == reports.map(\.partition))
        #expect(ours.allSatisfy { $0.key == Array("smoke-key".utf8) && $0.topic == topic })
        #expect(ours[0].headers.map(\.key) == ["x-run", "x-null"])
        #expect(ours[0].headers[1].value == nil)
        #expect(ours[0].timestamp != nil)
        try await consumer.commit(ours[2])
        await consumer.close()
        return group
    }
}
