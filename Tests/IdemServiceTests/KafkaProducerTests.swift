import IdemKafka
import IdemTestSupport
import Testing

/// The producer against an in-process mock cluster.
@Suite("Kafka producer")
struct KafkaProducerTests {
    let logger = makeTestLogger("idem.tests.kafka-producer")

    @Test("an idempotent producer delivers every record once, in order, with key and headers")
    func idempotent() async throws {
        let topic = "idempotent"
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 2, logger: logger)
        let producer = try await KafkaProducer.make(
            bootstrapServers: cluster.bootstrapServers,
            configuration: ["enable.idempotence": "true", "message.timeout.ms": "30000"], logger: logger)
        // One at a time first, then many in flight at once.
        var reports: [String: KafkaDeliveryReport] = [:]
        for index in 0..<10 {
            reports["v-\(index)"] = try await producer.produce(
                topic: topic, key: Array("k-\(index)".utf8), value: Array("v-\(index)".utf8),
                headers: [KafkaHeader(key: "n", text: "\(index)")], partition: 0)
        }
        let concurrent = try await withThrowingTaskGroup(of: (String, KafkaDeliveryReport).self) { group in
            for index in 10..<300 {
                group.addTask {
                    let report = try await producer.produce(
                        topic: topic, key: Array("k-\(index)".utf8), value: Array("v-\(index)".utf8),
                        headers: [KafkaHeader(key: "n", text: "\(index)")], partition: 0)
                    return ("v-\(index)", report)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        reports.merge(concurrent) { first, _ in first }
        try await producer.flush(timeout: .seconds(10))
        await producer.close()

        #expect(reports.count == 300)
        #expect(reports.values.allSatisfy { $0.topic == topic && $0.partition == 0 })
        #expect(Set(reports.values.map(\.offset)) == Set(0..<300))
        #expect((0..<10).map { reports["v-\($0)"]?.offset } == (0..<10).map { Int64($0) })

        let consumer = try await KafkaTestKit.consumer(
            cluster, group: KafkaTestKit.group("idempotent"), topic: topic, logger: logger)
        _ = try await KafkaTestKit.assigned(consumer)
        let records = try await KafkaTestKit.records(consumer, count: 300)
        #expect(records.count == 300)
        #expect(records.map(\.offset) == Array(0..<300))
        for record in records {
            let value = KafkaTestKit.text(record)
            #expect(reports[value]?.offset == record.offset, "\(value) is not at its reported offset")
            #expect(record.key == Array(value.replacingOccurrences(of: "v-", with: "k-").utf8))
            #expect(record.header("n") == Array(value.dropFirst(2).utf8))
        }
        await consumer.close()
        await cluster.shutdown()
    }
}
