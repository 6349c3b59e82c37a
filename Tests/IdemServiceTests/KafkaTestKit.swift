import Foundation
import IdemKafka
import IdemKafkaMock
import Logging
import Testing

/// Helpers shared by the Kafka consumer tests, which run against an in-process
/// ``KafkaMockCluster``.
enum KafkaTestKit {
    /// Group timing that keeps the mock's rebalances short: the mock waits
    /// `session.timeout.ms` − 1 s for members to join once a group has formed (3 s for the
    /// first join), and members learn of a rebalance from their next heartbeat.
    static let fastGroup = ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500"]

    /// A fresh group name.
    static func group(_ name: String) -> String {
        "idem-\(name)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Starts a mock cluster with one topic.
    static func cluster(topic: String, partitions: Int, logger: Logger) async throws -> KafkaMockCluster {
        let cluster = try await KafkaMockCluster.start(brokerCount: 1, logger: logger)
        try await cluster.createTopic(name: topic, partitions: partitions)
        return cluster
    }

    /// Produces `count` records with values `v-<first + i>` round-robin to `partitions`
    /// partitions (record `i` to partition `i % partitions`), many in flight at once.
    static func produce(
        to cluster: KafkaMockCluster, topic: String, count: Int, first: Int = 0, partitions: Int32,
        logger: Logger
    ) async throws {
        let producer = try await KafkaProducer.make(
            bootstrapServers: cluster.bootstrapServers, configuration: ["message.timeout.ms": "30000"],
            logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in first..<(first + count) {
                group.addTask {
                    _ = try await producer.produce(
                        topic: topic, value: Array("v-\(index)".utf8), partition: Int32(index) % partitions)
                }
            }
            try await group.waitForAll()
        }
        await producer.close()
    }

    /// A subscribed consumer in `group`.
    static func consumer(
        _ cluster: KafkaMockCluster, group: String, topic: String, configuration: [String: String] = fastGroup,
        logger: Logger
    ) async throws -> KafkaConsumer {
        let consumer = try await KafkaConsumer.make(
            bootstrapServers: cluster.bootstrapServers, groupId: group, configuration: configuration,
            logger: logger)
        try await consumer.subscribe(topics: [topic])
        return consumer
    }

    /// Polls until a rebalance is reported (records polled meanwhile are returned with it)
    /// and returns it without completing it.
    static func nextRebalance(
        _ consumer: KafkaConsumer, within seconds: Int = 60
    ) async throws -> (rebalance: KafkaRebalance, records: [KafkaRecord]) {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var records: [KafkaRecord] = []
        while ContinuousClock.now < deadline {
            let result = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(500))
            records += result.records
            if let rebalance = result.rebalance { return (rebalance, records) }
        }
        throw KafkaTestFailure("no rebalance within \(seconds) s")
    }

    /// Polls until an assignment is reported, completes it (with `startOffsets`) and returns
    /// its partitions.
    static func assigned(
        _ consumer: KafkaConsumer, startOffsets: [KafkaTopicPartition: Int64] = [:], within seconds: Int = 60
    ) async throws -> [KafkaTopicPartition] {
        let (rebalance, records) = try await nextRebalance(consumer, within: seconds)
        guard case .assign(let partitions) = rebalance else {
            throw KafkaTestFailure("expected an assignment, got \(rebalance)")
        }
        #expect(records.isEmpty, "records before the first assignment: \(records.count)")
        try await consumer.completeRebalance(rebalance, startOffsets: startOffsets)
        return partitions
    }

    /// Polls (completing rebalances) until `count` records arrived or `seconds` passed.
    static func records(
        _ consumer: KafkaConsumer, count: Int, maxRecords: Int = 100, within seconds: Int = 60
    ) async throws -> [KafkaRecord] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var records: [KafkaRecord] = []
        while records.count < count, ContinuousClock.now < deadline {
            let result = try await consumer.poll(maxRecords: maxRecords, timeout: .milliseconds(500))
            records += result.records
            if let rebalance = result.rebalance {
                try await consumer.completeRebalance(rebalance)
            }
        }
        return records
    }

    /// The commit positions (last offset + 1) of `records`, one per partition.
    static func positions(after records: [KafkaRecord]) -> [KafkaPartitionOffset] {
        var next: [KafkaTopicPartition: Int64] = [:]
        for record in records {
            next[record.topicPartition] = max(next[record.topicPartition] ?? 0, record.offset + 1)
        }
        return next.sorted { $0.key < $1.key }.map {
            KafkaPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value)
        }
    }

    /// The text of a record's value.
    static func text(_ record: KafkaRecord) -> String {
        String(decoding: record.value ?? [], as: UTF8.self)
    }

    /// All partitions `0..<count` of `topic`.
    static func partitions(_ topic: String, _ count: Int32) -> [KafkaTopicPartition] {
        (0..<count).map { KafkaTopicPartition(topic: topic, partition: $0) }
    }
}

/// A test precondition that did not hold.
struct KafkaTestFailure: Error, CustomStringConvertible {
    /// What did not happen.
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
