import Foundation
import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import IdemTestSupport
import Synchronization
import Testing

/// The batched deletes of retention and the sweeper service, in process, against the test
/// PostgreSQL.
@Suite("Retention sweeper")
struct RetentionSweeperTests {
    /// Inserts rows of `consumer` with `status`, named `prefix-0…`, last updated `age` ago.
    static func insert(
        _ fixture: StoreFixture, consumer: String? = nil, _ prefix: String, count: Int, status: String,
        age: String
    ) async throws {
        _ = try await fixture.admin.query(
            """
            INSERT INTO \(fixture.table.quoted) (consumer, message_id, status, locked_until, first_seen_at, updated_at)
            SELECT $1, $2 || '-' || g, $3, CASE WHEN $3 = 'processing' THEN now() - interval '1 day' END,
                   now() - $4::interval, now() - $4::interval
            FROM generate_series(0, $5::integer - 1) AS g
            """, [consumer ?? fixture.consumer, prefix, status, age, String(count)])
    }

    static func ids(_ fixture: StoreFixture, consumer: String? = nil) async throws -> Set<String> {
        Set(
            try await fixture.admin.query(
                "SELECT message_id FROM \(fixture.table.quoted) WHERE consumer = $1", [consumer ?? fixture.consumer]
            ).rows.map { $0[0]! })
    }

    static func names(_ prefix: String, _ count: Int) -> Set<String> {
        Set((0..<count).map { "\(prefix)-\($0)" })
    }

    static func consumer(_ name: String, retention: Duration, interval: Duration, batch: Int) -> ConsumerConfig {
        ConsumerConfig(
            name: name, source: .amqp(AMQPSourceConfig(url: "amqp://localhost", queue: "q")),
            identity: IdentityChain([.messageId]),
            handler: HandlerConfig(kind: .sql(statement: "SELECT 1", parameters: [])),
            dedup: DedupSettings(retention: retention, sweepInterval: interval, sweepBatch: batch))
    }

    @Test func countsAndDeletesOnlyTheStatusesAskedForBeforeTheCutoff() async throws {
        let fixture = try await StoreFixture.make()
        let retention = DedupRetention(pool: fixture.pool, table: fixture.table)
        try await Self.insert(fixture, "done-old", count: 23, status: "done", age: "3 days")
        try await Self.insert(fixture, "dead-old", count: 4, status: "dead", age: "3 days")
        try await Self.insert(fixture, "failed-old", count: 3, status: "failed", age: "3 days")
        try await Self.insert(fixture, "processing-old", count: 2, status: "processing", age: "3 days")
        try await Self.insert(fixture, "done-new", count: 5, status: "done", age: "1 hour")
        try await Self.insert(fixture, consumer: "billing", "done-old", count: 6, status: "done", age: "3 days")
        let cutoff = try await retention.cutoff(age: .seconds(2 * 86400))

        let swept = DedupRetention.sweptStatuses
        #expect(try await retention.countExpired(consumer: fixture.consumer, statuses: swept, before: cutoff) == 27)
        let batches = Mutex<[Int]>([])
        let deleted = try await retention.deleteExpired(
            consumer: fixture.consumer, statuses: swept, before: cutoff, batchSize: 10, pacing: .shared,
            onBatch: { count in batches.withLock { $0.append(count) } })
        #expect(deleted == 27)
        #expect(batches.withLock { $0 } == [10, 10, 7])
        #expect(
            try await Self.ids(fixture)
                == Self.names("failed-old", 3).union(Self.names("processing-old", 2)).union(Self.names("done-new", 5)))
        #expect(try await Self.ids(fixture, consumer: "billing") == Self.names("done-old", 6))

        // Failed rows go only when asked for; processing rows stay.
        #expect(
            try await retention.deleteExpired(
                consumer: fixture.consumer, statuses: [.failed], before: cutoff, batchSize: 100) == 3)
        #expect(try await Self.ids(fixture) == Self.names("processing-old", 2).union(Self.names("done-new", 5)))
        try await fixture.drop()
    }

    @Test func aRowLockedByATransactionIsSkippedNotWaitedFor() async throws {
        let fixture = try await StoreFixture.make()
        let retention = DedupRetention(pool: fixture.pool, table: fixture.table)
        try await Self.insert(fixture, "old", count: 5, status: "done", age: "3 days")
        // Another transaction holds old-2, as a claim of its redelivery would.
        let holder = try await PostgresConnection.connect(url: fixture.url, logger: fixture.logger)
        try await holder.execute("BEGIN")
        _ = try await holder.query(
            "SELECT 1 FROM \(fixture.table.quoted) WHERE consumer = $1 AND message_id = 'old-2' FOR UPDATE",
            [fixture.consumer])
        let cutoff = try await retention.cutoff(age: .seconds(86400))
        let started = ContinuousClock.now
        let deleted = try await retention.deleteExpired(
            consumer: fixture.consumer, statuses: DedupRetention.sweptStatuses, before: cutoff, batchSize: 2)
        #expect(deleted == 4)
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(try await Self.ids(fixture) == ["old-2"])
        try await holder.execute("COMMIT")
        await holder.close()
        // The next sweep takes it.
        #expect(
            try await retention.deleteExpired(
                consumer: fixture.consumer, statuses: DedupRetention.sweptStatuses, before: cutoff, batchSize: 2) == 1)
        #expect(try await Self.ids(fixture).isEmpty)
        try await fixture.drop()
    }

    @Test func theSweeperDeletesExpiredRowsAndMinutesReportsThemAndStopsPromptly() async throws {
        let fixture = try await StoreFixture.make()
        let stats = DedupSchema.statsTable(for: fixture.table)
        try await Self.insert(fixture, "done-old", count: 12, status: "done", age: "2 hours")
        try await Self.insert(fixture, "dead-old", count: 3, status: "dead", age: "2 hours")
        try await Self.insert(fixture, "failed-old", count: 2, status: "failed", age: "2 hours")
        try await Self.insert(fixture, "recent", count: 4, status: "done", age: "10 minutes")
        _ = try await fixture.admin.query(
            """
            INSERT INTO \(stats) (consumer, minute, received) VALUES
                ($1, date_trunc('minute', now()) - interval '3 hours', 1),
                ($1, date_trunc('minute', now()) - interval '5 minutes', 2),
                ('billing', date_trunc('minute', now()) - interval '3 hours', 3)
            """, [fixture.consumer])
        let reported = Mutex<[String: Int]>([:])
        let readiness = StoreReadiness()
        let sweeper = RetentionSweeper(
            consumer: Self.consumer(
                fixture.consumer, retention: .seconds(3600), interval: .milliseconds(100), batch: 5),
            store: DedupRetention(pool: fixture.pool, table: fixture.table), readiness: readiness,
            logger: fixture.logger,
            onDeleted: { consumer, count in reported.withLock { $0[consumer, default: 0] += count } })
        let running = Task { try await sweeper.run() }
        // Nothing happens before the store is ready.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await Self.ids(fixture).count == 21)
        await readiness.markReady()
        try await waitUntil(10, "the expired rows and minutes swept") {
            let rows = try await Self.ids(fixture)
            let minutes = try await fixture.count("SELECT count(*) FROM \(stats)")
            return rows == Self.names("failed-old", 2).union(Self.names("recent", 4)) && minutes == 2
        }
        #expect(reported.withLock { $0 } == [fixture.consumer: 15])
        let minutes = try await fixture.admin.query("SELECT consumer, received FROM \(stats) ORDER BY received").rows
        #expect(minutes.map { [$0[0]!, $0[1]!] } == [[fixture.consumer, "2"], ["billing", "3"]])

        // Rows expiring later are swept by a later pass.
        try await Self.insert(fixture, "later", count: 7, status: "dead", age: "90 minutes")
        try await waitUntil(10, "the later rows swept") { try await Self.ids(fixture).count == 6 }
        #expect(reported.withLock { $0 } == [fixture.consumer: 22])

        let cancelled = ContinuousClock.now
        running.cancel()
        try await running.value
        #expect(ContinuousClock.now - cancelled < .seconds(1))
        try await fixture.drop()
    }

    @Test func theSweeperKeepsTryingAfterAFailedSweep() async throws {
        let fixture = try await StoreFixture.make()
        // A table that does not exist yet: every sweep fails until it is created.
        let missing = DedupTableName(fixture.table.table + "_later")
        let readiness = StoreReadiness()
        await readiness.markReady()
        var quiet = fixture.logger
        quiet.logLevel = .critical
        let sweeper = RetentionSweeper(
            consumer: Self.consumer(
                fixture.consumer, retention: .seconds(3600), interval: .milliseconds(100), batch: 50),
            store: DedupRetention(pool: fixture.pool, table: missing), readiness: readiness, logger: quiet)
        let running = Task { try await sweeper.run() }
        await #expect(throws: DedupStoreError.self) { try await sweeper.sweep() }
        try await Task.sleep(for: .milliseconds(350))
        _ = try await SchemaMigrator(table: missing, logger: quiet).migrate(on: fixture.admin)
        _ = try await fixture.admin.query(
            """
            INSERT INTO \(missing.quoted) (consumer, message_id, status, updated_at)
            SELECT $1, 'm-' || g, 'done', now() - interval '2 hours' FROM generate_series(1, 10) AS g
            """, [fixture.consumer])
        try await waitUntil(10, "rows swept once the table exists") {
            try await fixture.count("SELECT count(*) FROM \(missing.quoted)") == 0
        }
        running.cancel()
        try await running.value
        _ = try await fixture.admin.query(
            "DELETE FROM \(DedupSchema.versionTable(for: missing)) WHERE table_name = $1", [missing.description])
        try await fixture.drop(
            missing.quoted, DedupSchema.statsTable(for: missing), DedupSchema.offsetsTable(for: missing),
            DedupSchema.replaysTable(for: missing))
    }
}
