import Foundation
import IdemKafka
import IdemPostgres
import IdemTestSupport
import Testing

/// `idem dlq list|show|replay` on a Kafka dead-letter topic (the mock cluster), with
/// `idem run` dead-lettering the records.
@Suite("idem dlq on Kafka, end to end")
struct KafkaDeadLetterReplayTests {
    func dlq(_ arguments: [String], _ config: URL, _ world: KafkaWorld) async throws -> IdemProcess.Outcome {
        try await IdemProcess.run(
            ["dlq"] + arguments.prefix(1) + ["--config", config.path, "--consumer", world.name] + arguments.dropFirst())
    }

    func effects(_ world: KafkaWorld, id: String) async throws -> Int {
        try await world.count("SELECT count(*) FROM \(world.effects) WHERE id = '\(id)'")
    }

    @Test func aDiscardedGroupStaysOnTheTopicAndIsThenRefusedByReplays() async throws {
        let world = try await KafkaWorld.make(partitions: 1)
        try await world.sql("ALTER TABLE \(world.effects) ADD CONSTRAINT no_blocked CHECK (body <> 'blocked')")
        let config = try world.config()
        try await world.migrate(config)
        try await world.produce((1...3).map { ("k-\($0)", "blocked", ["event-id": "d-\($0)"]) })
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        #expect(try await world.deadLetters(count: 3).count == 3, "\(worker.logText)")
        #expect(try await worker.stop() == 0)

        let grouped = try await dlq(["groups", "--json"], config, world)
        #expect(grouped.status == 0, "\(grouped.stderr)")
        let lines = grouped.stdout.split(separator: "\n")
        #expect(lines.count == 1, "one failure: \(grouped.stdout)")
        let group = try #require(
            (try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])?["group"] as? String)
        let discard = try await dlq(["discard", "--group", group], config, world)
        #expect(discard.status == 0, "\(discard.stderr)")
        #expect(discard.stdout.contains("discarded 3, refused 0, failed 0"), "\(discard.stdout)")
        // The topic keeps the records; the audit marks them, and replays refuse them.
        let listed = try await dlq(["list"], config, world)
        #expect(listed.stdout.components(separatedBy: "discarded (audit #").count == 4, "\(listed.stdout)")
        let replay = try await dlq(["replay", "--group", group], config, world)
        #expect(replay.status == 1)
        #expect(replay.stdout.contains("replayed 0, refused 3, failed 0"), "\(replay.stdout)")
        #expect(replay.stderr.contains("was already discarded at"), "\(replay.stderr)")
        #expect(replay.stderr.contains("use --force to take it anyway"))
        #expect(try await world.effectCounts().rows == 0)
        try await world.cleanUp()
    }

    @Test func aDeadLetteredRecordIsReplayedToItsTopicOnceAndThenRefused() async throws {
        let world = try await KafkaWorld.make(partitions: 2)
        // A CHECK violation (SQLSTATE 23514) rejects the record: dead-lettered at once.
        try await world.sql("ALTER TABLE \(world.effects) ADD CONSTRAINT no_blocked CHECK (body <> 'blocked')")
        let config = try world.config()
        try await world.migrate(config)
        try await world.produce([
            ("k-1", "blocked", ["event-id": "e-1", "tenant": "acme"]), ("k-2", "fine", ["event-id": "e-2"]),
        ])
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let dead = try await world.deadLetters(count: 1)
        #expect(dead.count == 1, "\(worker.logText)")
        #expect(
            dead.first?.header("x-idem-dead-lettered-at").flatMap { UInt64(String(decoding: $0, as: UTF8.self)) } != nil
        )
        try await world.eventually(30, "e-2's effect") { try await effects(world, id: "e-2") == 1 }

        let listed = try await dlq(["list", "--json"], config, world)
        #expect(listed.status == 0, "\(listed.stderr)")
        let entries = try listed.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(entries.count == 1, "\(listed.stdout)")
        let entry = try #require(entries.first)
        #expect(entry["id"] as? String == "e-1")
        #expect(entry["reason"] as? String == "rejected")
        #expect(entry["attempts"] as? Int == 1)
        #expect(entry["location"] as? String == "\(world.deadLetterTopic):0:0")
        #expect((entry["source"] as? String)?.hasPrefix("\(world.topic):") == true)
        #expect(entry["replayed"] as? Bool == false)

        let shown = try await dlq(["show", "--position", "0:0"], config, world)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("body (7 bytes, UTF-8 text):\nblocked\n"), "\(shown.stdout)")
        #expect(shown.stdout.contains("  tenant: acme"), "\(shown.stdout)")
        #expect(shown.stdout.contains("  key ") && shown.stdout.contains("k-1"), "\(shown.stdout)")

        try await world.sql("ALTER TABLE \(world.effects) DROP CONSTRAINT no_blocked")
        // Two replays at once (a Kafka topic keeps the record, so both see it): one replays
        // it, the other is refused. The test holds the replays' advisory lock (its key:
        // ReplayAudit.lockKey) until both wait for it, so that they really race.
        let holder = try await PostgresConnection.connect(url: world.postgresURL, logger: world.logger)
        let key = "idem-dlq-replay\u{1F}\(world.table)\u{1F}\(world.name)\u{1F}e-1"
        try await holder.begin()
        _ = try await holder.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [key])
        async let first = dlq(["replay", "--id", "e-1", "--by", "tester"], config, world)
        async let second = dlq(["replay", "--id", "e-1", "--by", "tester"], config, world)
        try await world.eventually(60, "both replays waiting for the lock") {
            let waiting = try await holder.query(
                """
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                  AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)
                """, [key])
            return waiting.rows.first?.first == "2"
        }
        try await holder.commit()
        await holder.close()
        let replays = try await [first, second]
        #expect(replays.map(\.status).sorted() == [0, 1], "\(replays.map { $0.stdout + $0.stderr })")
        #expect(replays.contains { $0.stdout.contains("replayed 1, refused 0, failed 0") })
        #expect(replays.contains { $0.stdout.contains("replayed 0, refused 1, failed 0") })
        try await world.eventually(30, "e-1's effect") { try await effects(world, id: "e-1") == 1 }
        let audit = try await world.sql(
            "SELECT id, consumer, message_id, replayed_by, row_reset, dead_letter_source, target FROM \(world.table)_replays"
        ).rows
        #expect(audit.count == 1)
        let auditID = try #require(audit.first?[0])
        #expect(audit.first?[1] == world.name)
        #expect(audit.first?[2] == "e-1")
        #expect(audit.first?[3] == "tester")
        #expect(audit.first?[4] == "t")
        #expect(audit.first?[5] == "\(world.deadLetterTopic):0:0")
        #expect(audit.first?[6]?.hasPrefix("\(world.topic):") == true, "the topic, partition and offset it went to")
        // The replayed record came back with its key and headers, and the audit row's ID.
        let source = try await world.sql("SELECT source FROM \(world.effects) WHERE id = 'e-1'").rows.first?[0]
        #expect(source == audit.first?[6], "the effect is the replayed record's")

        // The topic keeps the record; the audit refuses it from now on.
        let again = try await dlq(["replay", "--all"], config, world)
        #expect(again.status == 1)
        #expect(again.stdout.contains("replayed 0, refused 1, failed 0"), "\(again.stdout)\n\(again.stderr)")
        #expect(
            again.stderr.contains("message 'e-1' was already replayed at")
                && again.stderr.contains("by tester (audit #\(auditID))")
                && again.stderr.contains("use --force to replay it again"), "\(again.stderr)")
        let table = try await dlq(["list"], config, world)
        #expect(table.stdout.contains("yes (audit #\(auditID))"), "\(table.stdout)")
        try await Task.sleep(for: .seconds(1))
        #expect(try await effects(world, id: "e-1") == 1)
        #expect(try await world.count("SELECT count(*) FROM \(world.table)_replays") == 1)
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }
}
