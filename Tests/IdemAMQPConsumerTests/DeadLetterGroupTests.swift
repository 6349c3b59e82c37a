import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// `idem dlq groups`, and `replay --group` and `discard --group`, against the real RabbitMQ
/// and PostgreSQL, with `idem run` dead-lettering the messages.
@Suite("idem dlq groups on RabbitMQ, end to end", .serialized)
struct DeadLetterGroupTests {
    func dlq(_ arguments: [String], _ config: URL, _ world: AMQPWorld) async throws -> IdemProcess.Outcome {
        try await IdemProcess.run(
            ["dlq"] + arguments.prefix(1) + ["--config", config.path, "--consumer", world.name] + arguments.dropFirst())
    }

    func groups(_ config: URL, _ world: AMQPWorld) async throws -> [[String: Any]] {
        let outcome = try await dlq(["groups", "--json"], config, world)
        try #require(outcome.status == 0, "\(outcome.stderr)")
        return try outcome.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func deadLettersAreGroupedByFailureThenOneGroupDiscardedAndAnotherReplayed() async throws {
        let world = try await AMQPWorld.make()
        // Two ways to fail permanently, each with details that vary per message.
        try await world.sql(
            """
            CREATE OR REPLACE FUNCTION check_\(world.name)(id text, body text) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN
                IF body LIKE 'amount:%' THEN
                    RAISE EXCEPTION 'amount % below 0 for %', split_part(body, ':', 2), id USING ERRCODE = '23514';
                END IF;
                IF body LIKE 'sku:%' THEN
                    RAISE EXCEPTION 'no product "%"', split_part(body, ':', 2) USING ERRCODE = '23503';
                END IF;
                RETURN true;
            END $$
            """)
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body) SELECT $1, $2 WHERE check_\(world.name)($1, $2)",
            retry: "{max_attempts: 1}")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        var messages = (1...5).map { ("amount:-\($0 * 3)", "a-\($0)", AMQPTable()) }
        messages += (1...3).map { ("sku:X\($0 * 7)", "s-\($0)", AMQPTable()) }
        messages.append(("fine", "ok-1", AMQPTable()))
        try await world.publish(messages)
        try await world.eventually(30, "8 dead letters and an effect") {
            let dead = try await world.queueDepth(world.deadLetterQueue)
            let rows = try await world.effectCounts().rows
            return dead == 8 && rows == 1
        }
        #expect(try await worker.stop() == 0)

        let found = try await groups(config, world)
        #expect(found.count == 2, "\(found)")
        let amounts = try #require(found.first)
        let products = try #require(found.last)
        #expect(amounts["count"] as? Int == 5)
        #expect(amounts["reason"] as? String == "rejected")
        #expect(
            (amounts["pattern"] as? String)?.contains("amount -<n> below <n> for a-<n>") == true, "\(amounts)")
        #expect((amounts["pattern"] as? String)?.contains("SQLSTATE 23514") == true)
        #expect(products["count"] as? Int == 3)
        #expect((products["pattern"] as? String)?.contains("no product \"…\"") == true, "\(products)")
        let amountGroup = try #require(amounts["group"] as? String)
        let productGroup = try #require(products["group"] as? String)
        let table = try await dlq(["groups"], config, world)
        #expect(table.stdout.contains("8 dead letters in queue \(world.deadLetterQueue), 2 groups"), "\(table.stdout)")
        #expect(table.stdout.contains(amountGroup))

        // Discard the first group: taken off the queue, audited, the dedup rows left dead.
        let dry = try await dlq(["discard", "--group", amountGroup, "--dry-run"], config, world)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("dry run: would discard 5, would refuse 0, failed 0"), "\(dry.stdout)")
        #expect(try await world.queueDepth(world.deadLetterQueue) == 8)
        let discard = try await dlq(["discard", "--group", amountGroup, "--by", "ops"], config, world)
        #expect(discard.status == 0, "\(discard.stderr)")
        #expect(discard.stdout.contains("discarded 5, refused 0, failed 0"), "\(discard.stdout)")
        #expect(try await world.queueDepth(world.deadLetterQueue) == 3)
        let audit = try await world.sql(
            "SELECT action, failure_group, replayed_by, count(*) FROM \(world.table)_replays GROUP BY 1, 2, 3")
        #expect(audit.rows == [["discard", amountGroup, "ops", "5"]])
        let rows = try await world.sql(
            "SELECT count(*) FROM \(world.table) WHERE consumer = $1 AND message_id LIKE 'a-%' AND status = 'dead'",
            [world.name])
        #expect(rows.rows.first?.first == "5", "the dedup rows stay: a redelivery is still not processed")

        // Fix what made the products fail, and replay that group alone.
        try await world.sql(
            "CREATE OR REPLACE FUNCTION check_\(world.name)(id text, body text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$"
        )
        let replay = try await dlq(["replay", "--group", productGroup], config, world)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("replayed 3, refused 0, failed 0"), "\(replay.stdout)")
        let again = try WorkerProcess(config: config)
        try await again.waitUntilConsuming()
        try await world.eventually(30, "the 3 products processed") { try await world.effectCounts().rows == 4 }
        #expect(try await world.queueDepth(world.deadLetterQueue) == 0)
        #expect(try await again.stop() == 0)
        #expect(try await groups(config, world).isEmpty)
        let unknown = try await dlq(["replay", "--group", "0000000000"], config, world)
        #expect(unknown.stdout.contains("replayed 0, refused 0, failed 0"), "\(unknown.stdout)")
        try await world.sql("DROP FUNCTION check_\(world.name)(text, text)")
        try await world.cleanUp()
    }
}
