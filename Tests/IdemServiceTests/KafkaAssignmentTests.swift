import Foundation
import IdemKafka
import IdemTestSupport
import Testing

/// Manual assignment on the mock cluster: what `idem dlq` uses to read a topic outside any
/// consumer group.
@Suite("Kafka consumer: manual assignment, watermarks, metadata")
struct KafkaAssignmentTests {
    let logger = makeTestLogger("idem-kafka-assignment")

    @Test("metadata counts a topic's partitions and says when it does not exist")
    func partitionCount() async throws {
        let cluster = try await KafkaTestKit.cluster(topic: "assign-meta", partitions: 3, logger: logger)
        let consumer = try await KafkaConsumer.make(
            bootstrapServers: cluster.bootstrapServers, groupId: KafkaTestKit.group("meta"), logger: logger)
        #expect(try await consumer.partitionCount(of: "assign-meta", timeout: .seconds(10)) == 3)
        #expect(try await consumer.partitionCount(of: "no-such-topic", timeout: .seconds(10)) == nil)
        await consumer.close()
        await cluster.shutdown()
    }

    @Test("an assigned partition is read from the given offset to the high watermark, with no group commit")
    func assignAndReadToTheEnd() async throws {
        let cluster = try await KafkaTestKit.cluster(topic: "assign-read", partitions: 2, logger: logger)
        try await KafkaTestKit.produce(to: cluster, topic: "assign-read", count: 10, partitions: 2, logger: logger)
        let group = KafkaTestKit.group("assign")
        let consumer = try await KafkaConsumer.make(
            bootstrapServers: cluster.bootstrapServers, groupId: group, logger: logger)
        let partition = KafkaTopicPartition(topic: "assign-read", partition: 1)
        let marks = try await consumer.watermarks(of: partition, timeout: .seconds(10))
        #expect(marks.low == 0 && marks.high == 5)
        try await consumer.assign([partition: 2])
        var values: [String] = []
        var offsets: [Int64] = []
        let deadline = Date().addingTimeInterval(20)
        while values.count < 3, Date() < deadline {
            let result = try await consumer.poll(maxRecords: 10, timeout: .milliseconds(200))
            #expect(result.rebalance == nil)
            #expect(result.records.allSatisfy { $0.topicPartition == partition })
            values += result.records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
            offsets += result.records.map(\.offset)
        }
        // Records 1, 3, 5, 7, 9 went to partition 1 (in the order the concurrent produces
        // arrived); reading from offset 2 gives the last three of them.
        #expect(offsets == [2, 3, 4])
        #expect(values.count == 3 && Set(values).isSubset(of: ["v-1", "v-3", "v-5", "v-7", "v-9"]))
        #expect(try await consumer.positions(of: [partition]) == [partition: 5])
        #expect(try await consumer.committed([partition], timeout: .seconds(10)).isEmpty, "nothing committed")
        await consumer.close()
        await cluster.shutdown()
    }
}
