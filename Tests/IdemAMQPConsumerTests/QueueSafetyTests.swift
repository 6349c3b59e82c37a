import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// Quorum queues as sources, and the checks `idem run` and `idem check-config` make of a
/// queue on the broker before consuming.
@Suite("RabbitMQ: quorum queues and startup safety checks", .serialized)
struct QueueSafetyTests {
    @Test func aQuorumQueueIsDeclaredAndConsumedWithEachEffectOnce() async throws {
        // The world's own queue would be classic: this one is left to the worker to declare.
        let world = try await AMQPWorld.make(deadLetterQueue: false)
        let connection = try await world.amqp()
        _ = try await connection.deleteQueue(world.queue, ifUnused: false, ifEmpty: false)
        await connection.close()
        let config = try world.config(
            retry: "{max_attempts: 3, initial_backoff: 100ms, jitter: 0}",
            sourceExtra: "queue_type: quorum\n        delivery_limit: 10")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.publish((0..<30).map { ("q \($0)", "q-\($0 % 20)", AMQPTable()) })
        try await world.eventually(30, "20 effects and 10 duplicates acked") {
            let effects = try await world.effectCounts()
            let waiting = try await world.queueDepth()
            return effects.rows == 20 && waiting == 0
        }
        #expect(try await world.effectCounts().distinct == 20)
        // The broker has them as quorum queues with the limit: declaring them so is a no-op,
        // declaring them classic is refused.
        let check = try await world.amqp()
        _ = try await check.declareQueue(
            name: world.queue, durable: true, exclusive: false, autoDelete: false,
            arguments: ["x-queue-type": .utf8("quorum"), "x-delivery-limit": .i64(10)])
        _ = try await check.declareQueue(
            name: world.deadLetterQueue, durable: true, exclusive: false, autoDelete: false,
            arguments: ["x-queue-type": .utf8("quorum")])
        await #expect(throws: AMQPError.self) {
            _ = try await check.declareQueue(
                name: world.queue, durable: true, exclusive: false, autoDelete: false, arguments: AMQPTable())
        }
        await check.close()
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func aQueueOfAnotherTypeThanConfiguredStopsTheWorkerBeforeItConsumes() async throws {
        let world = try await AMQPWorld.make(queueArguments: ["x-queue-type": .utf8("quorum")])
        try await world.publish([("kept", "k-1", AMQPTable())])
        for declare in [false, true] {
            let config = try world.config(declare: declare)
            try await world.migrate(config)
            let run = try await IdemProcess.run(["run", "--config", config.path])
            #expect(run.status != 0)
            // Checked before anything is declared, so with declare: true too.
            let expected =
                "queue '\(world.queue)' does not match consumers.\(world.name).source.amqp.queue_type (classic)"
            #expect(run.stderr.contains(expected), "\(run.stderr)")
            #expect(run.stderr.contains("x-queue-type"), "the broker's words: \(run.stderr)")
        }
        let check = try await IdemProcess.run(["check-config", try world.config(declare: false).path])
        #expect(check.status == 2)
        #expect(
            check.stderr.contains("does not match consumers.\(world.name).source.amqp.queue_type"), "\(check.stderr)")
        // Said as it is, it runs.
        let config = try world.config(declare: false, sourceExtra: "queue_type: quorum")
        let ok = try await IdemProcess.run(["check-config", config.path])
        #expect(ok.status == 0, "\(ok.stderr)")
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "the message processed") { try await world.effectCounts().rows == 1 }
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func aMissingDeadLetterRouteStopsTheWorkerBeforeItConsumes() async throws {
        let world = try await AMQPWorld.make(deadLetterQueue: false)
        try await world.publish([("waits", "w-1", AMQPTable())])
        let config = try world.config(declare: false)
        try await world.migrate(config)
        let run = try await IdemProcess.run(["run", "--config", config.path])
        #expect(run.status == 1)
        #expect(
            run.stderr.contains(
                "dead letters go to queue '\(world.deadLetterQueue)' through the default exchange (consumers.\(world.name).source.amqp.dead_letter_routing_key), and it does not exist"
            ), "\(run.stderr)")
        #expect(try await world.effectCounts().rows == 0, "nothing was consumed")
        #expect(try await world.queueDepth() == 1)
        let named = try world.config(deadLetterExchange: world.deadLetterExchange, declare: false)
        let check = try await IdemProcess.run(["check-config", named.path])
        #expect(check.status == 2)
        #expect(check.stderr.contains("dead letters go to exchange '\(world.deadLetterExchange)'"), "\(check.stderr)")
        try await world.cleanUp()
    }
}
