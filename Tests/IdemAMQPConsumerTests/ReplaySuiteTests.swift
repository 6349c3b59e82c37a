import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// The replay suite on RabbitMQ: `idem replay` publishes a corpus of `Tests/Corpus`, `idem
/// run` consumes it, and each distinct ID has its effect once, the rest is dead-lettered
/// with its reason, and nothing is left in the queue. The brokers and the database are the
/// ones the environment names (see the README, "Running the tests against other brokers").
@Suite("Replay suite: RabbitMQ", .serialized)
struct ReplaySuiteTests {
    /// The `sql` handler of the orders corpus: a non-numeric `/amount` is rejected (SQLSTATE
    /// class 22).
    private func ordersConfig(_ world: AMQPWorld) throws -> URL {
        try world.config(
            id: "[message_id]",
            sql: "INSERT INTO \(world.effects)(id, body) SELECT $1, $2 WHERE $3::numeric IS NOT NULL",
            params: "[id, body, \"json:/amount\"]")
    }

    @Test(arguments: [nil, 7, 20_260_301] as [UInt64?])
    func theOrdersCorpusHasEachEffectOnceAndDeadLettersTheRest(seed: UInt64?) async throws {
        let world = try await AMQPWorld.make()
        let config = try ordersConfig(world)
        try await world.migrate(config)
        var arguments = ["replay", Corpus.path("orders.jsonl"), "--to", world.amqpURL, "--queue", world.queue]
        if let seed { arguments += ["--shuffle", "--seed", String(seed)] }
        let replay = try await IdemProcess.run(arguments)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(
            replay.stdout.contains("sent 14 messages (7 distinct lines) to queue \(world.queue)"), "\(replay.stdout)")
        #expect(replay.stdout.contains(seed.map { "shuffled with seed \($0)" } ?? " s\n"), "\(replay.stdout)")
        #expect(try await world.queueDepth() == 14)

        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "4 effects, 4 dead letters, an empty queue") {
            let rows = try await world.effectCounts().rows
            let dead = try await world.queueDepth(world.deadLetterQueue)
            let depth = try await world.queueDepth()
            return rows >= 4 && dead >= 4 && depth == 0
        }
        try await Task.sleep(for: .milliseconds(500))
        let counts = try await world.effectCounts()
        #expect(counts.rows == 4, "\(worker.logText)")
        #expect(counts.distinct == 4)
        let ids = try await world.sql("SELECT id FROM \(world.effects) ORDER BY id").rows.map { $0[0] ?? "" }
        #expect(ids == ["order-1", "order-2", "order-3", "order-5"])
        let statuses = try await world.sql(
            "SELECT message_id, status FROM \(world.table) ORDER BY message_id"
        ).rows.map { "\($0[0] ?? ""):\($0[1] ?? "")" }
        #expect(
            statuses == ["order-1:done", "order-2:done", "order-3:done", "order-4:dead", "order-5:done"],
            "\(statuses)")
        #expect(try await world.queueDepth() == 0)

        let dead = try await world.drainDeadLetters()
        let reasons = dead.compactMap { delivery -> String? in
            if case .utf8(let reason)? = delivery.properties.headers["x-idem-reason"] { return reason }
            return nil
        }
        #expect(reasons.sorted() == ["payload-conflict", "poison:no-id", "poison:no-id", "rejected"], "\(reasons)")
        let conflict = try #require(dead.first { $0.properties.headers["x-idem-reason"] == .utf8("payload-conflict") })
        #expect(conflict.properties.messageId == "order-3")
        let rejected = try #require(dead.first { $0.properties.headers["x-idem-reason"] == .utf8("rejected") })
        #expect(rejected.properties.messageId == "order-4")
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func aLineArrivesWithItsPropertiesAndHeadersAsManyTimesAsItSays() async throws {
        let world = try await AMQPWorld.make()
        let corpus = try IdemProcess.temporaryFile(
            """
            {"message_id": "m-1", "body": "hello", "headers": {"x-tenant": "acme", "x-try": 2, "x-flag": true}, \
            "properties": {"content_type": "text/plain", "content_encoding": "identity", "correlation_id": "c-1", \
            "type": "greeting", "app_id": "replay-test", "reply_to": "answers", "priority": 3, \
            "timestamp": "2026-03-01T12:00:00Z", "delivery_mode": "transient", "expiration": 600000}, "times": 2}
            """, suffix: ".jsonl")
        let replay = try await IdemProcess.run([
            "replay", corpus.path, "--to", world.amqpURL, "--queue", world.queue, "--rate", "50",
        ])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("sent 2 messages (1 distinct line)"), "\(replay.stdout)")
        let connection = try await world.amqp()
        var deliveries: [AMQPDelivery] = []
        while let delivery = try await connection.get(queue: world.queue, autoAck: true) { deliveries.append(delivery) }
        await connection.close()
        #expect(deliveries.count == 2)
        for delivery in deliveries {
            let properties = delivery.properties
            #expect(delivery.body == Array("hello".utf8))
            #expect(properties.messageId == "m-1")
            #expect(properties.contentType == "text/plain")
            #expect(properties.contentEncoding == "identity")
            #expect(properties.correlationId == "c-1")
            #expect(properties.type == "greeting")
            #expect(properties.appId == "replay-test")
            #expect(properties.replyTo == "answers")
            #expect(properties.priority == 3)
            #expect(properties.timestamp == 1_772_366_400)
            #expect(properties.deliveryMode == .transient)
            #expect(properties.expiration == "600000")
            #expect(properties.headers["x-tenant"] == .utf8("acme"))
            #expect(properties.headers["x-try"]?.integerValue == 2)
            #expect(properties.headers["x-flag"] == .boolean(true))
        }
        try await world.cleanUp()
    }

    @Test func aConsumerTargetTakesItsQueueFromTheConfiguration() async throws {
        let world = try await AMQPWorld.make()
        let config = try ordersConfig(world)
        let replay = try await IdemProcess.run([
            "replay", Corpus.path("orders.jsonl"), "--to", "consumer:\(world.name)", "--config", config.path,
        ])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(
            replay.stdout.contains("sent 14 messages (7 distinct lines) to queue \(world.queue)"), "\(replay.stdout)")
        #expect(try await world.queueDepth() == 14)
        try await world.cleanUp()
    }
}
