import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// `idem dlq list|show|replay` against the real RabbitMQ and PostgreSQL, with `idem run`
/// dead-lettering the messages.
@Suite("idem dlq on RabbitMQ, end to end")
struct DeadLetterReplayTests {
    /// A world whose handler rejects (CHECK violation, SQLSTATE 23514: permanent) any
    /// message whose body is `blocked`, until ``unblock(_:)``.
    func blockedWorld() async throws -> (AMQPWorld, URL) {
        let world = try await AMQPWorld.make()
        try await block(world)
        let config = try world.config(id: "[message_id]")
        try await world.migrate(config)
        return (world, config)
    }

    func block(_ world: AMQPWorld) async throws {
        try await world.sql(
            "ALTER TABLE \(world.effects) ADD CONSTRAINT no_blocked CHECK (body <> 'blocked') NOT VALID")
    }

    func unblock(_ world: AMQPWorld) async throws {
        try await world.sql("ALTER TABLE \(world.effects) DROP CONSTRAINT no_blocked")
    }

    func effects(_ world: AMQPWorld, id: String) async throws -> Int {
        Int(try await world.sql("SELECT count(*) FROM \(world.effects) WHERE id = $1", [id]).rows[0][0]!)!
    }

    func dlq(_ arguments: [String], _ config: URL, _ world: AMQPWorld) async throws -> IdemProcess.Outcome {
        try await IdemProcess.run(
            ["dlq"] + arguments.prefix(1) + ["--config", config.path, "--consumer", world.name] + arguments.dropFirst())
    }

    /// The JSON objects of `idem dlq list --json`.
    func listed(_ config: URL, _ world: AMQPWorld) async throws -> [[String: Any]] {
        let outcome = try await dlq(["list", "--json"], config, world)
        try #require(outcome.status == 0, "\(outcome.stderr)")
        return try outcome.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func aReplayedDeadLetterIsProcessedOnceWithAnAuditRowAndNeverTwice() async throws {
        let (world, config) = try await blockedWorld()
        try await world.publish([("blocked", "m-1", AMQPTable()), ("fine", "m-2", AMQPTable())])
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "a dead letter and an effect") {
            let dead = try await world.queueDepth(world.deadLetterQueue)
            let rows = try await world.effectCounts().rows
            return dead == 1 && rows == 1
        }

        // list: the reason and attempts, and nothing consumed.
        let table = try await dlq(["list"], config, world)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("1 dead letter in queue \(world.deadLetterQueue)"), "\(table.stdout)")
        let row = try #require(table.stdout.split(separator: "\n").first { $0.contains("m-1") }, "\(table.stdout)")
        #expect(row.contains("rejected") && row.contains("amqp:\(world.queue)") && row.contains("no"), "\(row)")
        let entries = try await listed(config, world)
        #expect(entries.count == 1)
        #expect(entries.first?["id"] as? String == "m-1")
        #expect(entries.first?["reason"] as? String == "rejected")
        #expect(entries.first?["attempts"] as? Int == 1)
        #expect(entries.first?["replayed"] as? Bool == false)
        #expect(entries.first?["dead_lettered_at"] is String, "x-idem-dead-lettered-at is set")
        #expect(try await world.queueDepth(world.deadLetterQueue) == 1, "listing consumed nothing")

        // Fix the cause, replay: processed once, audited, gone from the dead letters.
        try await unblock(world)
        let replay = try await dlq(["replay", "--id", "m-1", "--by", "tester"], config, world)
        #expect(replay.status == 0, "\(replay.stdout)\n\(replay.stderr)")
        #expect(replay.stdout.contains("replayed 1, refused 0, failed 0"), "\(replay.stdout)")
        try await world.eventually(30, "the replayed message's effect") { try await effects(world, id: "m-1") == 1 }
        let audit = try await world.sql(
            "SELECT id, consumer, message_id, replayed_by, row_reset, forced, dead_letter_source, target, reason, attempts FROM \(world.table)_replays"
        ).rows
        #expect(audit.count == 1)
        let auditID = try #require(audit.first?[0])
        #expect(
            Array(audit.first?.dropFirst() ?? [])
                == [
                    world.name, "m-1", "tester", "t", "f", "amqp:\(world.deadLetterQueue)", "amqp:\(world.queue)",
                    "rejected", "1",
                ])
        #expect(try await world.queueDepth(world.deadLetterQueue) == 0)

        // Again: refused, naming the earlier replay.
        let again = try await dlq(["replay", "--id", "m-1"], config, world)
        #expect(again.status == 1)
        #expect(
            again.stderr.contains("message 'm-1' was replayed at")
                && again.stderr.contains("by tester (audit #\(auditID))")
                && again.stderr.contains("no longer in the dead-letter queue \(world.deadLetterQueue)"),
            "\(again.stderr)")

        // Two copies of one ID in the dead letters: --all replays one and refuses the other.
        // A redelivery of a confirmed dead letter is acked, so the second copy comes from the
        // crash window between the broker's confirm and its record (cleared here by hand).
        // (One after the other: in one batch the second would be a duplicate of the first.)
        try await block(world)
        try await world.publish([("blocked", "m-3", AMQPTable())])
        try await world.eventually(30, "a dead letter") { try await world.queueDepth(world.deadLetterQueue) == 1 }
        try await world.eventually(30, "its confirm recorded") {
            try await world.sql(
                "SELECT count(*) FROM \(world.table) WHERE message_id = 'm-3' AND dead_letter_confirmed_at IS NOT NULL"
            ).rows.first?[0] == "1"
        }
        try await world.publish([("blocked", "m-3", AMQPTable()), ("fine", "m-4", AMQPTable())])
        try await world.eventually(30, "the message after it handled") { try await effects(world, id: "m-4") == 1 }
        #expect(try await world.queueDepth(world.deadLetterQueue) == 1, "a confirmed dead letter is not repeated")
        try await world.sql("UPDATE \(world.table) SET dead_letter_confirmed_at = NULL WHERE message_id = 'm-3'")
        try await world.publish([("blocked", "m-3", AMQPTable())])
        try await world.eventually(30, "two dead letters") { try await world.queueDepth(world.deadLetterQueue) == 2 }
        try await unblock(world)
        let both = try await dlq(["replay", "--all", "--by", "tester"], config, world)
        #expect(both.status == 1)
        #expect(both.stdout.contains("replayed 1, refused 1, failed 0"), "\(both.stdout)\n\(both.stderr)")
        #expect(
            both.stderr.contains("message 'm-3' was already replayed at")
                && both.stderr.contains("this copy was dead-lettered before that")
                && both.stderr.contains("use --force to replay it again"), "\(both.stderr)")
        try await world.eventually(30, "m-3's effect") { try await effects(world, id: "m-3") == 1 }
        #expect(try await world.queueDepth(world.deadLetterQueue) == 1, "the refused copy stays")
        let afterRefusal = try await listed(config, world)
        #expect(afterRefusal.first?["replayed"] as? Bool == true)

        // --force takes it; with the dedup row kept, the message is a duplicate: no effect.
        let forced = try await dlq(["replay", "--all", "--force", "--keep-dedup-row"], config, world)
        #expect(forced.status == 0, "\(forced.stdout)\n\(forced.stderr)")
        #expect(forced.stdout.contains("replayed 1, refused 0, failed 0"))
        #expect(forced.stdout.contains("forced past the replay of audit #"))
        try await world.eventually(30, "the forced copy consumed") { try await world.queueDepth() == 0 }
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await effects(world, id: "m-3") == 1)
        #expect(try await effects(world, id: "m-1") == 1)
        let m3 = try await world.sql(
            "SELECT forced, row_reset FROM \(world.table)_replays WHERE message_id = 'm-3' ORDER BY id"
        ).rows
        #expect(m3.map { $0.compactMap { $0 } } == [["f", "t"], ["t", "f"]])
        #expect(try await world.queueDepth(world.deadLetterQueue) == 0)
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func aReplayThatFailsAgainIsANewDeadLetterThatMayBeReplayed() async throws {
        let (world, config) = try await blockedWorld()
        try await world.publish([("blocked", "r-1", AMQPTable())])
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "a dead letter") { try await world.queueDepth(world.deadLetterQueue) == 1 }
        // Replayed before the cause is fixed: rejected again, dead-lettered again.
        let early = try await dlq(["replay", "--id", "r-1"], config, world)
        #expect(early.status == 0, "\(early.stdout)\n\(early.stderr)")
        try await world.eventually(30, "the dead letter again") {
            let dead = try await world.queueDepth(world.deadLetterQueue)
            let work = try await world.queueDepth()
            return dead == 1 && work == 0
        }
        let auditID = try #require(try await world.sql("SELECT id FROM \(world.table)_replays").rows.first?[0])
        let entries = try await listed(config, world)
        #expect(entries.count == 1)
        #expect((entries.first?["replay_id"] as? Int).map(String.init) == auditID, "x-idem-replay-id is kept")
        #expect(entries.first?["replayed"] as? Bool == false, "a new failure, not the copy already replayed")
        try await unblock(world)
        let fixed = try await dlq(["replay", "--id", "r-1"], config, world)
        #expect(fixed.status == 0, "\(fixed.stdout)\n\(fixed.stderr)")
        try await world.eventually(30, "r-1's effect") { try await effects(world, id: "r-1") == 1 }
        #expect(try await world.sql("SELECT count(*) FROM \(world.table)_replays").rows[0][0] == "2")
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func showPrintsTheWholeDeadLetterAndADryRunChangesNothing() async throws {
        let (world, config) = try await blockedWorld()
        var headers = AMQPTable()
        headers["X-Trace"] = .utf8("trace-7")
        try await world.publish([("blocked", "s-1", headers)])
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "a dead letter") { try await world.queueDepth(world.deadLetterQueue) == 1 }
        #expect(try await worker.stop() == 0)

        let shown = try await dlq(["show", "--id", "s-1"], config, world)
        #expect(shown.status == 0, "\(shown.stderr)")
        let lines = shown.stdout.split(separator: "\n").map(String.init)
        func line(_ label: String) -> String { lines.first { $0.hasPrefix("  \(label) ") } ?? "" }
        #expect(line("message id").hasSuffix(" s-1"), "\(shown.stdout)")
        #expect(line("reason").hasSuffix(" rejected"))
        #expect(line("attempts").hasSuffix(" 1"))
        #expect(line("source").hasSuffix(" amqp:\(world.queue)"))
        #expect(line("replayed").hasSuffix(" no"))
        #expect(line("dedup row").hasSuffix(" dead"))
        #expect(line("message-id").hasSuffix(" s-1"))
        for expected in [
            "  x-idem-reason: rejected", "  X-Trace: trace-7", "  x-idem-dead-lettered-at: ",
            "body (7 bytes, UTF-8 text):\nblocked\n", "replays of 's-1':\n  (none)",
        ] {
            #expect(shown.stdout.contains(expected), "missing \(expected) in\n\(shown.stdout)")
        }
        let json = try await dlq(["show", "--position", "1", "--json"], config, world)
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["id"] as? String == "s-1")
        #expect(object["body"] as? String == "blocked")
        #expect(object["dedup_row_status"] as? String == "dead")
        let headerPairs = (object["headers"] as? [[String]]) ?? []
        #expect(headerPairs.contains(["X-Trace", "trace-7"]))
        #expect(headerPairs.contains(["x-idem-reason", "rejected"]))
        let missing = try await dlq(["show", "--id", "nope"], config, world)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no message 'nope' in the dead-letter queue"), "\(missing.stderr)")

        let dry = try await dlq(["replay", "--all", "--dry-run"], config, world)
        #expect(dry.status == 0, "\(dry.stdout)\n\(dry.stderr)")
        #expect(dry.stdout.contains("would replay 's-1'"), "\(dry.stdout)")
        #expect(dry.stdout.contains("would reset its dedup row (dead)"), "\(dry.stdout)")
        #expect(dry.stdout.contains("dry run: would replay 1, would refuse 0, failed 0"))
        #expect(try await world.queueDepth(world.deadLetterQueue) == 1)
        #expect(try await world.queueDepth() == 0)
        #expect(try await world.sql("SELECT count(*) FROM \(world.table)_replays").rows[0][0] == "0")
        #expect(
            try await world.sql("SELECT status FROM \(world.table) WHERE message_id = 's-1'").rows.first?[0] == "dead")
        try await world.cleanUp()
    }

    @Test func usageAndConnectionErrors() async throws {
        let (world, config) = try await blockedWorld()
        let unknown = try await IdemProcess.run(["dlq", "list", "--config", config.path, "--consumer", "nope"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no consumer named 'nope'"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("consumers: \(world.name)"), "\(unknown.stderr)")
        let neither = try await dlq(["replay"], config, world)
        #expect(neither.status == 2)
        #expect(neither.stderr.contains("give either --id (one or more), --group or --all"), "\(neither.stderr)")

        // An unreachable broker: exit 1 naming it, without the password.
        let text = try String(contentsOf: config, encoding: .utf8)
        let brokerDown = try IdemProcess.temporaryFile(
            text.replacingOccurrences(of: "url: \(world.amqpURL)", with: "url: amqp://guest:s3cret@127.0.0.1:1/%2F"))
        let down = try await IdemProcess.run(["dlq", "list", "--config", brokerDown.path, "--consumer", world.name])
        #expect(down.status == 1)
        #expect(down.stderr.contains("127.0.0.1:1") && !down.stderr.contains("s3cret"), "\(down.stderr)")
        // An unreachable PostgreSQL: the same.
        let databaseDown = try IdemProcess.temporaryFile(
            text.replacingOccurrences(
                of: "url: \(world.postgresURL)", with: "url: postgres://idem:s3cret@127.0.0.1:1/idem"))
        let noDatabase = try await IdemProcess.run([
            "dlq", "replay", "--all", "--config", databaseDown.path, "--consumer", world.name,
        ])
        #expect(noDatabase.status == 1)
        #expect(
            noDatabase.stderr.contains("127.0.0.1:1") && !noDatabase.stderr.contains("s3cret"), "\(noDatabase.stderr)")
        try await world.cleanUp()
    }
}
