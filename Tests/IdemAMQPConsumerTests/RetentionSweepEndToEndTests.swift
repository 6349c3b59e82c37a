import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// The retention sweeper of `idem run`, end to end: a worker keeps consuming while it sweeps.
@Suite("Retention sweeper, end to end")
struct RetentionSweepEndToEndTests {
    static func messages(_ prefix: String, _ range: Range<Int>) -> [(
        body: String, messageId: String?, headers: AMQPTable
    )] {
        range.map { ("\(prefix) \($0)", "\(prefix)-\($0)", AMQPTable()) }
    }

    static func names(_ prefix: String, _ range: Range<Int>) -> Set<String> {
        Set(range.map { "\(prefix)-\($0)" })
    }

    @Test func theSweeperRemovesExactlyTheExpiredRowsWhileAConsumerKeepsRunning() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config(dedup: "{retention: 1h, sweep_interval: 200ms, sweep_batch: 7}")
        try await world.migrate(config)
        let stats = "\(world.table)_stats"
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()

        // 40 messages handled: their rows are done.
        try await world.publish(Self.messages("a", 0..<40))
        try await world.eventually(30, "40 effects") { try await world.effectCounts().rows == 40 }

        // Expired: 30 of the done rows, and 10 dead rows. Kept although as old: failed rows
        // (their messages still owe their effect), processing rows (a crashed worker's
        // claims), another consumer's rows, and minutes of counts younger than the retention.
        // Meanwhile more messages keep coming, in chunks, for about two seconds of sweeps.
        for chunk in 0..<20 {
            try await world.publish(Self.messages("b", (chunk * 10)..<(chunk * 10 + 10)))
            if chunk == 3 { try await expire(world) }
            try await Task.sleep(for: .milliseconds(60))
        }

        let kept = Self.names("a", 30..<40).union(Self.names("b", 0..<200)).union(Self.names("failed", 0..<10))
            .union(Self.names("processing", 0..<10))
        try await world.eventually(30, "the expired rows swept and every new message handled") {
            let ids = Set(
                try await world.sql("SELECT message_id FROM \(world.table) WHERE consumer = $1", [world.name]).rows
                    .map { $0[0]! })
            return ids == kept
        }
        // Exactly those: nothing else went, and nothing comes back.
        try await Task.sleep(for: .milliseconds(600))
        let ids = Set(
            try await world.sql("SELECT message_id FROM \(world.table) WHERE consumer = $1", [world.name]).rows.map {
                $0[0]!
            })
        #expect(ids == kept)
        let statuses = try await world.sql(
            "SELECT status, count(*) FROM \(world.table) WHERE consumer = $1 GROUP BY status ORDER BY status",
            [world.name]
        ).rows.map { "\($0[0]!)=\($0[1]!)" }
        #expect(statuses == ["done=210", "failed=10", "processing=10"])
        #expect(
            try await world.sql("SELECT count(*) FROM \(world.table) WHERE consumer = 'someone-else'").rows[0][0]
                == "10")
        let minutes = try await world.sql(
            "SELECT received FROM \(stats) WHERE consumer = $1 AND minute < date_trunc('minute', now()) - interval '5 minutes'",
            [world.name]
        ).rows.map { $0[0]! }
        #expect(minutes == ["2"])
        // Each message's effect happened once.
        let counts = try await world.effectCounts()
        #expect(counts.rows == 240, "\(worker.logText)")
        #expect(counts.distinct == 240)
        #expect(worker.logText.contains("retention sweep deleted"), "\(worker.logText)")
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    /// Makes rows expire (or look as old without being swept) under a running worker.
    private func expire(_ world: AMQPWorld) async throws {
        try await world.sql(
            "UPDATE \(world.table) SET updated_at = now() - interval '2 hours' WHERE consumer = $1 AND message_id = ANY($2::text[])",
            [world.name, "{\(Self.names("a", 0..<30).sorted().joined(separator: ","))}"])
        try await world.sql(
            """
            INSERT INTO \(world.table) (consumer, message_id, status, locked_until, first_seen_at, updated_at)
            SELECT $1, s || '-' || g, s, CASE WHEN s = 'processing' THEN now() - interval '90 minutes' END,
                   now() - interval '3 hours', now() - interval '2 hours'
            FROM unnest(ARRAY['dead', 'failed', 'processing']) AS s, generate_series(0, 9) AS g
            UNION ALL
            SELECT 'someone-else', 'x-' || g, 'done', NULL, now() - interval '3 hours', now() - interval '2 hours'
            FROM generate_series(0, 9) AS g
            """, [world.name])
        try await world.sql(
            """
            INSERT INTO \(world.table)_stats (consumer, minute, received) VALUES
                ($1, date_trunc('minute', now()) - interval '2 hours', 1),
                ($1, date_trunc('minute', now()) - interval '10 minutes', 2)
            """, [world.name])
    }
}
