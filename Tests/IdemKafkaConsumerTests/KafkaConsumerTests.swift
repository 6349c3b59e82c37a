import Foundation
import IdemKafka
import IdemTestSupport
import Testing

/// `idem run` against a mock Kafka cluster (librdkafka's, over TCP) and the real
/// PostgreSQL: each promise of the Kafka consumer, end to end.
@Suite("Kafka consumer, end to end", .serialized)
struct KafkaConsumerTests {
    @Test(arguments: ["header", "key", "content_hash"])
    func duplicatesHaveTheirEffectOnce(by source: String) async throws {
        let world = try await KafkaWorld.make()
        let id: String
        switch source {
        case "header": id = "[{header: event-id}]"
        case "key": id = "[key]"
        default: id = "[content_hash]"
        }
        let config = try world.config(id: id)
        try await world.migrate(config)
        var records: [(key: String?, value: String, headers: [String: String])] = []
        for copy in 0..<3 {
            for n in 0..<100 {
                // With header IDs the copies land on other partitions (no key), so that
                // partitions race for the same ID.
                let key: String? = source == "header" ? nil : "k-\(n)"
                records.append((key, "event \(n)", ["event-id": "e-\(n)", "copy": "\(copy)"]))
            }
        }
        try await world.produce(records.shuffled())
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(60, "100 effects") { try await world.effectCounts().rows >= 100 }
        try await Task.sleep(for: .seconds(1))
        let counts = try await world.effectCounts()
        #expect(counts.rows == 100, "\(worker.logText)")
        #expect(counts.distinct == 100)
        #expect(try await worker.stop() == 0)
        // Everything was committed on the way out: 300 records over the partitions.
        let committed = try await world.committedOffsets()
        #expect(committed.values.reduce(0, +) == 300, "\(committed)")
        try await world.cleanUp()
    }

    @Test func transientFailuresAreRetriedInPlaceKeepingOrderThenDeadLettered() async throws {
        let world = try await KafkaWorld.make(partitions: 2)
        // Records keyed "bad" always fail with a transient error; all others succeed.
        try await Self.createFailingFunction(world)
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body, source) VALUES ($1, fail_\(world.name)($2), $3)",
            params: "[id, \"header:k\", source]",
            retry: "{max_attempts: 3, initial_backoff: 300ms, multiplier: 2, jitter: 0}",
            batch: "{size: 10, max_size: 10, max_wait: 5ms}")
        try await world.migrate(config)
        var records: [(key: String?, value: String, headers: [String: String])] = []
        for n in 0..<60 {
            let key = n == 20 ? "bad" : "good"
            records.append((key, "v\(n)", ["event-id": "o-\(n)", "k": key]))
        }
        // All on one partition (one key hash for "good", maybe another for "bad"): produce
        // one by one so that the offsets follow n.
        for record in records { try await world.produce([record]) }
        let started = Date()
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let dead = try await world.deadLetters(count: 1, within: 60)
        let elapsed = Date().timeIntervalSince(started)
        try await world.eventually(60, "59 effects") { try await world.effectCounts().rows >= 59 }
        #expect(dead.count == 1, "\(worker.logText)")
        let letter = try #require(dead.first)
        #expect(String(decoding: letter.value ?? [], as: UTF8.self) == "v20")
        #expect(letter.key == Array("bad".utf8))
        let headers = Dictionary(letter.headers.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) }) {
            a, _ in a
        }
        #expect(headers["x-idem-reason"] == "attempts-exhausted")
        #expect(headers["x-idem-attempts"] == "3")
        #expect(headers["x-idem-source"]?.hasPrefix("\(world.topic):") == true)
        #expect(headers["x-idem-last-error"]?.contains("downstream busy for bad") == true)
        #expect(headers["x-idem-first-seen"].flatMap { UInt64($0) } != nil)
        #expect(headers["event-id"] == "o-20", "the original headers are kept")
        #expect(elapsed >= 0.9, "two backoffs of 300 ms and 600 ms came first; took \(elapsed) s")
        // Order per partition: effects were applied in offset order, and the records
        // after the failing one waited for it.
        let rows = try await world.sql("SELECT source, id FROM \(world.effects) ORDER BY n").rows
        var lastOffset: [String: Int64] = [:]
        for row in rows {
            let parts = row[0]!.split(separator: ":")
            let partition = String(parts[1])
            let offset = Int64(parts[2])!
            #expect(offset > lastOffset[partition, default: -1], "partition \(partition) out of order: \(rows)")
            lastOffset[partition] = offset
        }
        let badPartition = headers["x-idem-source"]!.split(separator: ":")[1]
        let after = try await world.sql(
            """
            SELECT count(*) FROM \(world.effects) e
            WHERE split_part(e.source, ':', 2) = $1
              AND split_part(e.source, ':', 3)::bigint > split_part($2, ':', 3)::bigint
              AND e.at < (SELECT updated_at FROM \(world.table) WHERE message_id = 'o-20')
            """, [String(badPartition), headers["x-idem-source"]!])
        #expect(after.rows[0][0] == "0", "a record after the failing one took effect before it was given up on")
        #expect(try await worker.stop() == 0)
        try await world.sql("DROP FUNCTION fail_\(world.name)(text)")
        try await world.cleanUp()
    }

    @Test func aTransientFailureInAMergedBatchHoldsOnlyItsOwnPartition() async throws {
        let world = try await KafkaWorld.make(partitions: 4)
        try await Self.createFailingFunction(world)
        // One transaction at a time: the partitions' batches wait for it and are merged.
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body, source) VALUES ($1, fail_\(world.name)($2), $3)",
            params: "[id, \"header:k\", source]",
            retry: "{max_attempts: 3, initial_backoff: 1s, multiplier: 2, jitter: 0}",
            batch: "{size: 10, max_size: 200, max_wait: 5ms}", concurrency: 1)
        try await world.migrate(config)
        var records: [(key: String?, value: String, headers: [String: String])] = []
        for n in 0..<200 {
            let key = n == 5 ? "bad" : "k-\(n % 11)"
            records.append((key, "v\(n)", ["event-id": "m-\(n)", "k": n == 5 ? "bad" : "good"]))
        }
        // A copy of every tenth record, on whatever partition its new key lands.
        for n in stride(from: 0, to: 200, by: 10) where n != 5 {
            records.append(("copy-\(n)", "v\(n)", ["event-id": "m-\(n)", "k": "good"]))
        }
        try await world.produce(records)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let dead = try await world.deadLetters(count: 1, within: 60)
        try await world.eventually(60, "199 effects") { try await world.effectCounts().rows >= 199 }
        try await Task.sleep(for: .milliseconds(500))
        let counts = try await world.effectCounts()
        #expect(counts.rows == 199, "\(worker.logText)")
        #expect(counts.distinct == 199)
        let source = try #require(
            dead.first.flatMap { letter in
                letter.headers.first { $0.key == "x-idem-source" }.map {
                    String(decoding: $0.value ?? [], as: UTF8.self)
                }
            })
        let badPartition = String(source.split(separator: ":")[1])
        // Order per partition: effects in offset order.
        let rows = try await world.sql("SELECT source FROM \(world.effects) ORDER BY n").rows
        var lastOffset: [String: Int64] = [:]
        var partitions: Set<String> = []
        for row in rows {
            let parts = row[0]!.split(separator: ":")
            let partition = String(parts[1])
            partitions.insert(partition)
            let offset = Int64(parts[2])!
            #expect(offset > lastOffset[partition, default: -1], "partition \(partition) out of order")
            lastOffset[partition] = offset
        }
        #expect(partitions.count > 1, "the records spread over the partitions")
        // The failing record held its own partition for its two backoffs (3 s), and only it: the
        // other partitions' records all took effect before it was given up on.
        let held = try await world.sql(
            """
            SELECT count(*) FILTER (WHERE split_part(e.source, ':', 2) <> $1 AND e.at > d.updated_at),
                   count(*) FILTER (WHERE split_part(e.source, ':', 2) = $1
                     AND split_part(e.source, ':', 3)::bigint > split_part($2, ':', 3)::bigint
                     AND e.at < d.updated_at)
            FROM \(world.effects) e, (SELECT updated_at FROM \(world.table) WHERE message_id = 'm-5') d
            """, [badPartition, source])
        #expect(held.rows[0][0] == "0", "another partition waited for the failing record")
        #expect(held.rows[0][1] == "0", "a record after the failing one took effect before it was given up on")
        #expect(try await worker.stop() == 0)
        try await world.sql("DROP FUNCTION fail_\(world.name)(text)")
        try await world.cleanUp()
    }

    /// `fail_NAME(k)`: returns `k`, or fails with a transient error when `k` is `bad`.
    private static func createFailingFunction(_ world: KafkaWorld) async throws {
        try await world.sql(
            """
            CREATE OR REPLACE FUNCTION fail_\(world.name)(k text) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN IF k = 'bad' THEN RAISE EXCEPTION 'downstream busy for %', k; END IF; RETURN k; END $$
            """)
    }

    @Test func killMinusNineMidBatchThenRestartLosesAndDoublesNothing() async throws {
        let world = try await KafkaWorld.make()
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body, source) SELECT $1, $2, $3 FROM pg_sleep(0.002)",
            batch: "{size: 20, max_size: 20, max_wait: 5ms}")
        try await world.migrate(config)
        try await world.produce((0..<600).map { (nil, "body \($0)", ["event-id": "k-\($0)"]) })
        let first = try WorkerProcess(config: config)
        try await first.waitUntilConsuming()
        try await world.eventually(60, "some progress") { try await world.effectCounts().rows >= 100 }
        #expect(try await first.stop(SIGKILL) == SIGKILL)
        let second = try WorkerProcess(config: config)
        try await second.waitUntilConsuming()
        try await world.eventually(90, "600 effects") { try await world.effectCounts().rows >= 600 }
        try await Task.sleep(for: .seconds(1))
        let counts = try await world.effectCounts()
        #expect(counts.rows == 600, "\(second.logText)")
        #expect(counts.distinct == 600)
        #expect(try await second.stop() == 0)
        // The committed offsets cover every record: nothing skipped, nothing left.
        let committed = try await world.committedOffsets()
        #expect(committed.values.reduce(0, +) == 600, "\(committed)")
        try await world.cleanUp()
    }

    @Test func aSecondWorkerJoinsThenTheFirstLeavesWithEachEffectOnce() async throws {
        let world = try await KafkaWorld.make(partitions: 6)
        // Enough records that the first worker is still busy when the second has joined: a
        // real broker's group join can take 20 s (Tansu's does), the mock's takes a second.
        let total = KafkaWorld.usesMockCluster ? 1200 : 5000
        // Slow effects, so that the first worker is busy through both rebalances.
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body, source) SELECT $1, $2, $3 FROM pg_sleep(0.02)",
            batch: "{size: 5, max_size: 5, max_wait: 5ms}", concurrency: 2)
        try await world.migrate(config)
        try await world.produce((0..<total).map { (nil, "r\($0)", ["event-id": "r-\($0)"]) })
        let a = try WorkerProcess(config: config)
        try await a.waitUntilConsuming()
        try await world.eventually(60, "A is busy") { try await world.effectCounts().rows >= 50 }
        let b = try WorkerProcess(config: config)
        try await b.waitUntilConsuming()
        try await world.eventually(90, "B has partitions") { b.logText.contains("partitions assigned") }
        let shared = try await world.effectCounts().rows
        do {
            try await world.eventually(60, "both at work") { try await world.effectCounts().rows >= shared + 50 }
        } catch {
            Issue.record("no progress after the rebalance; A:\n\(a.logText)\nB:\n\(b.logText)")
            throw error
        }
        #expect(shared < total, "A finished before B joined: the test did not test a rebalance")
        #expect(try await a.stop() == 0, "\(a.logText)")
        #expect(a.logText.contains("partitions revoked"))
        try await world.eventually(180, "every effect") { try await world.effectCounts().rows >= total }
        #expect(try await b.stop() == 0, "\(b.logText)")
        // A third worker takes every partition from the committed offsets: whatever the
        // others did not manage to commit comes again, as duplicates only.
        let c = try WorkerProcess(config: config)
        try await c.waitUntilConsuming()
        try await world.eventually(90, "all offsets committed") {
            try await world.committedOffsets().values.reduce(0, +) == Int64(total)
        }
        #expect(try await c.stop() == 0)
        let counts = try await world.effectCounts()
        #expect(counts.rows == total, "\(b.logText)")
        #expect(counts.distinct == total)
        try await world.cleanUp()
    }

    @Test func offsetModeResumesFromTheStoredOffsetsAfterACrash() async throws {
        let world = try await KafkaWorld.make(partitions: 3)
        // Commits every minute only: after the crash, the group's committed offsets lag far
        // behind, and only PostgreSQL knows where each partition really is.
        let config = try world.config(
            id: "[offset]",
            sql: "INSERT INTO \(world.effects)(id, body, source) SELECT $1, $2, $3 FROM pg_sleep(0.002)",
            batch: "{size: 20, max_size: 20, max_wait: 5ms}", commitInterval: "60s")
        try await world.migrate(config)
        try await world.produce((0..<600).map { (nil, "o\($0)", [:]) })
        let first = try WorkerProcess(config: config)
        try await first.waitUntilConsuming()
        try await world.eventually(60, "some progress") { try await world.effectCounts().rows >= 150 }
        #expect(try await first.stop(SIGKILL) == SIGKILL)
        // One snapshot: a COMMIT the killed worker sent may still be landing.
        let snapshot = try await world.sql(
            "SELECT (SELECT sum(next_offset) FROM \(world.table)_offsets), (SELECT count(*) FROM \(world.effects))"
        ).rows[0]
        #expect(snapshot[0] == snapshot[1], "the stored offsets are exactly the effects committed: \(snapshot)")

        let second = try WorkerProcess(config: config)
        try await second.waitUntilConsuming()
        try await world.eventually(90, "600 effects") { try await world.effectCounts().rows >= 600 }
        try await Task.sleep(for: .seconds(1))
        let counts = try await world.effectCounts()
        #expect(counts.rows == 600, "\(second.logText)")
        #expect(counts.distinct == 600)
        #expect(second.logText.contains("starting at the stored offsets"))
        #expect(try await world.count("SELECT count(*) FROM \(world.table)") == 0, "no row per message")
        #expect(try await second.stop() == 0)
        try await world.cleanUp()
    }

    @Test func lagPerPartitionRisesWhileBehindAndFallsToZero() async throws {
        let world = try await KafkaWorld.make(partitions: 2)
        // 20 ms per record, 5 per batch: 200 records take a few seconds to work off.
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body, source) SELECT $1, $2, $3 FROM pg_sleep(0.02)",
            batch: "{size: 5, max_size: 5, max_wait: 5ms}")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let endpoint = try await OperationsEndpoint.of(worker)
        try await world.produce((0..<200).map { (nil, "l\($0)", ["event-id": "l-\($0)"]) })
        func lags() async throws -> [Double] {
            try await (0..<2).asyncMap { partition in
                try await endpoint.sample(
                    "idem_kafka_lag", "consumer=\"\(world.name)\",topic=\"\(world.topic)\",partition=\"\(partition)\"")
                    ?? -1
            }
        }
        try await world.eventually(30, "a lag while behind") { try await lags().reduce(0, +) > 0 }
        try await world.eventually(60, "200 effects") { try await world.effectCounts().rows == 200 }
        try await world.eventually(10, "no lag") { try await lags() == [0, 0] }
        #expect(try await endpoint.sample("idem_messages_received_total", "consumer=\"\(world.name)\"") == 200)
        #expect(try await endpoint.sample("idem_messages_processed_total", "consumer=\"\(world.name)\"") == 200)
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }
}

extension Sequence {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
