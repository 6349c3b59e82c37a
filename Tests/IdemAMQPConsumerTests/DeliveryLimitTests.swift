import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// A quorum queue counts the deliveries of a message (`x-delivery-count`) and drops it past
/// its delivery limit. On a message's last delivery, idem dead-letters it rather than hand
/// it back.
@Suite("RabbitMQ: the last delivery a quorum queue allows", .serialized)
struct DeliveryLimitTests {
    /// Takes every message of the world's queue `times` times without acking it, so that
    /// its `x-delivery-count` grows by `times`.
    private func handBack(_ world: AMQPWorld, count: Int, times: Int) async throws {
        for _ in 0..<times {
            let connection = try await world.amqp()
            try await connection.setPrefetch(count: 100)
            _ = try await connection.startConsuming(queue: world.queue)
            var taken: [AMQPDelivery] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while taken.count < count, ContinuousClock.now < deadline {
                taken += try await connection.nextDeliveries(maxCount: count, timeout: .milliseconds(100))
            }
            try #require(taken.count == count)
            await connection.close()
            try await world.eventually(10, "the messages back in the queue") { try await world.queueDepth() == count }
        }
    }

    private static func quorum(limit: Int) -> AMQPTable {
        ["x-queue-type": .utf8("quorum"), "x-delivery-limit": .i64(Int64(limit))]
    }

    @Test func aRetryByRequeueOnTheLastDeliveryIsDeadLetteredInstead() async throws {
        let world = try await AMQPWorld.make(queueArguments: Self.quorum(limit: 3), deadLetterQueue: false)
        try await world.sql(
            """
            CREATE FUNCTION busy_\(world.name)(text) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'downstream busy for %', $1 USING ERRCODE = '57014'; END $$
            """)
        try await world.publish([("payload", "l-1", AMQPTable())])
        try await handBack(world, count: 1, times: 3)
        let config = try world.config(
            sql: "SELECT busy_\(world.name)($1)", params: "[id]",
            retry: "{max_attempts: 2, initial_backoff: 100ms, jitter: 0}",
            sourceExtra: "queue_type: quorum\n        delivery_limit: 3\n        retry_via: requeue")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        // Its first attempt fails; requeued, it would be dropped (a fourth return).
        try await world.eventually(30, "a dead letter") { try await world.queueDepth(world.deadLetterQueue) == 1 }
        let dead = try await world.drainDeadLetters()
        #expect(dead.first?.properties.headers["x-idem-reason"] == .utf8("delivery-limit"))
        #expect(dead.first?.properties.headers["x-idem-attempts"] == .i64(1))
        let text = dead.first?.properties.headers["x-idem-last-error"]?.stringValue ?? ""
        #expect(text.contains("x-delivery-count 3"), "\(text)")
        #expect(text.contains("delivery limit of 3"), "\(text)")
        #expect(text.contains("downstream busy for l-1"), "\(text)")
        #expect(try await world.queueDepth() == 0)
        let operations = try await OperationsEndpoint.of(worker)
        let metrics = try await operations.get("/metrics")
        #expect(metrics.body.contains("reason=\"delivery-limit\""), "\(metrics.body)")
        #expect(try await worker.stop() == 0)
        try await world.sql("DROP FUNCTION busy_\(world.name)(text)")
        try await world.cleanUp()
    }

    @Test func aMessageOnItsLastDeliveryLeftUnprocessedAtShutdownIsDeadLetteredNotDropped() async throws {
        let world = try await AMQPWorld.make(queueArguments: Self.quorum(limit: 1), deadLetterQueue: false)
        // The first message taken holds the only batch slot for 2 s; the other waits behind it.
        try await world.publish([("a", "m-1", AMQPTable()), ("b", "m-2", AMQPTable())])
        try await handBack(world, count: 2, times: 1)
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body) SELECT $1, $2 FROM pg_sleep(2)",
            batch: "{size: 1, max_size: 1, max_wait: 1ms}", concurrency: 1,
            sourceExtra: "queue_type: quorum\n        delivery_limit: 1")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(10, "both taken") {
            let connection = try await world.amqp()
            defer { Task { await connection.close() } }
            return try await connection.inspectQueue(world.queue).messageCount == 0
        }
        #expect(try await worker.stop() == 0)
        let effects = try await world.sql("SELECT id FROM \(world.effects)").rows.compactMap { $0[0] }
        #expect(effects.count == 1, "the one taken finished")
        // Handed back, the waiting one would be over the limit and dropped by the broker.
        let dead = try await world.drainDeadLetters()
        #expect(dead.count == 1)
        #expect(Set(effects + dead.compactMap(\.messageId)) == ["m-1", "m-2"], "each kept once")
        #expect(dead.first?.properties.headers["x-idem-reason"] == .utf8("delivery-limit"))
        #expect(dead.first?.properties.headers["x-idem-message-id"] == dead.first?.messageId.map { .utf8($0) })
        #expect(try await world.queueDepth() == 0)
        try await world.cleanUp()
    }
}
