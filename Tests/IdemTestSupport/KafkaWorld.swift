import Foundation
import IdemKafka
import IdemKafkaMock
import IdemPostgres
import Logging
import Testing

/// One Kafka end-to-end scenario's world: a Kafka cluster, a topic, a dedup table and an
/// effects table on the test PostgreSQL, and `idem run` worker processes consuming from it.
///
/// The cluster is a mock cluster hosted by the test process (real protocol over TCP, with
/// fault injection), or, when `IDEM_TEST_KAFKA_EXTERNAL=1`, the cluster at
/// `IDEM_TEST_KAFKA_BROKERS`, where the world creates its topics with the Admin API and
/// deletes them again in ``cleanUp()``.
public final class KafkaWorld: Sendable {
    public let postgresURL: String
    public let name: String
    /// The mock cluster; nil against an external cluster (tests that inject faults are
    /// skipped there, see ``usesMockCluster``).
    public let cluster: KafkaMockCluster?
    public let partitions: Int
    public let brokers: String
    public let logger = makeTestLogger("idem-kafka-e2e")

    public var topic: String { "t_\(name)" }
    public var deadLetterTopic: String { "t_\(name).dlq" }
    public var group: String { "g_\(name)" }
    public var table: String { "pm_\(name)" }
    public var effects: String { "effects_\(name)" }

    /// Whether worlds use an in-process mock cluster (the default) rather than the external
    /// cluster of `IDEM_TEST_KAFKA_EXTERNAL=1`: the condition of tests that inject faults.
    public static var usesMockCluster: Bool { !ServiceEnvironment.kafkaExternal }

    private init(postgresURL: String, name: String, cluster: KafkaMockCluster?, brokers: String, partitions: Int) {
        self.postgresURL = postgresURL
        self.name = name
        self.cluster = cluster
        self.brokers = brokers
        self.partitions = partitions
    }

    /// A world with a topic of `partitions` partitions and a one-partition dead-letter
    /// topic. The effects table records each effect's ID, body, key, source and order.
    /// `brokers` is the size of the mock cluster (an external cluster has its own).
    public static func make(partitions: Int = 4, brokers: Int = 1) async throws -> KafkaWorld {
        let name = UUID().uuidString.prefix(10).lowercased().replacingOccurrences(of: "-", with: "")
        let world: KafkaWorld
        if usesMockCluster {
            let cluster = try await KafkaMockCluster.start(
                brokerCount: brokers, logger: makeTestLogger("idem-kafka-mock"))
            world = KafkaWorld(
                postgresURL: try ServiceEnvironment.postgresURL(), name: name, cluster: cluster,
                brokers: cluster.bootstrapServers, partitions: partitions)
            try await cluster.createTopic(name: world.topic, partitions: partitions)
            try await cluster.createTopic(name: world.deadLetterTopic, partitions: 1)
        } else {
            world = KafkaWorld(
                postgresURL: try ServiceEnvironment.postgresURL(), name: name, cluster: nil,
                brokers: try ServiceEnvironment.kafkaBrokers(), partitions: partitions)
            try await KafkaTopicAdmin.createTopics(
                [
                    .init(name: world.topic, partitions: partitions),
                    .init(name: world.deadLetterTopic, partitions: 1),
                ], bootstrapServers: world.brokers, logger: world.logger)
        }
        try await world.sql(
            "CREATE TABLE \(world.effects) (n bigserial, id text NOT NULL, body text, source text, at timestamptz DEFAULT clock_timestamp())"
        )
        return world
    }

    @discardableResult
    public func sql(_ statement: String, _ parameters: [String?] = []) async throws -> PostgresRows {
        let connection = try await PostgresConnection.connect(url: postgresURL, logger: logger)
        defer { Task { await connection.close() } }
        return try await connection.query(statement, parameters, prepared: false)
    }

    /// A worker configuration for this world; `extra` is added at the top level (e.g. an
    /// `admin:` section).
    public func config(
        id: String = "[{header: event-id}]", sql: String? = nil, params: String = "[id, body, source]",
        retry: String = "{}", batch: String = "{size: 50, max_wait: 20ms}", concurrency: Int = 4,
        commitInterval: String = "200ms", extraProperties: String = "", extra: String = "",
        handlerTimeout: String = "30s"
    ) throws -> URL {
        let statement = sql ?? "INSERT INTO \(effects)(id, body, source) VALUES ($1, $2, $3)"
        return try IdemProcess.temporaryFile(
            """
            postgres:
              url: \(postgresURL)
              table: \(table)
            shutdown: {grace_period: 10s}
            logging: {level: info}
            metrics: {listen: "127.0.0.1:0"}
            \(extra)
            consumers:
              - name: \(name)
                source:
                  kafka:
                    brokers: "\(brokers)"
                    topics: [\(topic)]
                    group: \(group)
                    commit_interval: \(commitInterval)
                    properties: {session.timeout.ms: "6000", heartbeat.interval.ms: "500"\(extraProperties)}
                id: \(id)
                handler:
                  sql: "\(statement)"
                  params: \(params)
                  timeout: \(handlerTimeout)
                retry: \(retry)
                batch: \(batch)
                concurrency: \(concurrency)
            """)
    }

    public func migrate(_ config: URL) async throws {
        let outcome = try await IdemProcess.run(["migrate", "--config", config.path])
        try #require(outcome.status == 0, "idem migrate: \(outcome.stderr)")
    }

    /// Produces `records` (key, value, headers) to the topic; a key picks the partition.
    public func produce(_ records: [(key: String?, value: String, headers: [String: String])]) async throws {
        let producer = try await KafkaProducer.make(
            bootstrapServers: brokers, configuration: ["linger.ms": "5"], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, record) in records.enumerated() {
                group.addTask {
                    _ = try await producer.produce(
                        topic: self.topic, key: record.key.map { Array($0.utf8) }, value: Array(record.value.utf8),
                        headers: record.headers.sorted { $0.key < $1.key }.map {
                            KafkaHeader(key: $0.key, text: $0.value)
                        },
                        partition: record.key == nil ? Int32(index % self.partitions) : nil)
                }
                // Keep a bounded number of reports outstanding, in order per partition.
                if index % 200 == 199 { try await group.waitForAll() }
            }
        }
        await producer.close()
    }

    /// Effect rows, and distinct IDs among them.
    public func effectCounts() async throws -> (rows: Int, distinct: Int) {
        let row = try await sql("SELECT count(*), count(DISTINCT id) FROM \(effects)").rows[0]
        return (Int(row[0]!)!, Int(row[1]!)!)
    }

    /// The single number a query returns.
    public func count(_ query: String) async throws -> Int {
        Int(try await sql(query).rows[0][0] ?? "0") ?? 0
    }

    /// Every record of the dead-letter topic, read with a fresh group, waiting for `count`.
    public func deadLetters(count: Int, within seconds: Double = 30) async throws -> [KafkaRecord] {
        let consumer = try await KafkaConsumer.make(
            bootstrapServers: brokers, groupId: "dlq-reader-\(UUID().uuidString.prefix(6))", logger: logger)
        try await consumer.subscribe(topics: [deadLetterTopic])
        var out: [KafkaRecord] = []
        let deadline = Date().addingTimeInterval(seconds)
        while out.count < count, Date() < deadline {
            let result = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(200))
            out += result.records
            if let rebalance = result.rebalance { try await consumer.completeRebalance(rebalance) }
        }
        // A little longer, to see records beyond the expected count.
        let extra = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(500))
        out += extra.records
        await consumer.close()
        return out
    }

    /// The group's committed offsets, per partition of the topic.
    public func committedOffsets() async throws -> [Int32: Int64] {
        let consumer = try await KafkaConsumer.make(bootstrapServers: brokers, groupId: group, logger: logger)
        let partitions = (0..<Int32(self.partitions)).map { KafkaTopicPartition(topic: topic, partition: $0) }
        let committed = try await consumer.committed(partitions, timeout: .seconds(10))
        await consumer.close()
        return Dictionary(uniqueKeysWithValues: committed.map { ($0.key.partition, $0.value) })
    }

    /// Waits until `condition` holds, polling, for at most `seconds`.
    public func eventually(
        _ seconds: Double = 30, _ what: String, _ condition: () async throws -> Bool
    ) async throws {
        try await waitUntil(seconds, what, condition)
    }

    /// Drops the tables and stops the mock cluster (or deletes the topics of an external
    /// one).
    public func cleanUp() async throws {
        try await sql("DROP TABLE IF EXISTS \(effects)")
        try await sql("DROP TABLE IF EXISTS \(table)")
        try await sql("DROP TABLE IF EXISTS \(table)_offsets, \(table)_stats, \(table)_replays")
        _ = try? await sql("DELETE FROM idem_schema_versions WHERE table_name = $1", [table])
        if let cluster {
            await cluster.shutdown()
        } else {
            try? await KafkaTopicAdmin.deleteTopics(
                [topic, deadLetterTopic], bootstrapServers: brokers, logger: logger)
        }
    }
}
