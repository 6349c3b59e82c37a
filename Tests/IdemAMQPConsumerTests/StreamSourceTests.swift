import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// RabbitMQ streams as sources: idem declares the stream, reads it from the position it
/// stores in PostgreSQL, retries in place (reading the stream again from the record),
/// dead-letters to a quorum queue, and never nacks.
@Suite("RabbitMQ: streams as sources", .serialized)
struct StreamSourceTests {
    /// A world whose queue is left for the worker to declare as a stream, with a handler
    /// that fails once (transiently) for the body `flaky`.
    private func makeWorld() async throws -> AMQPWorld {
        let world = try await AMQPWorld.make(deadLetterQueue: false)
        let connection = try await world.amqp()
        _ = try await connection.deleteQueue(world.queue, ifUnused: false, ifEmpty: false)
        await connection.close()
        try await world.sql("CREATE SEQUENCE flaky_\(world.name)")
        try await world.sql(
            """
            CREATE FUNCTION effect_\(world.name)(id text, body text) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
              IF body = 'flaky' AND nextval('flaky_\(world.name)') = 1 THEN
                RAISE EXCEPTION 'downstream busy' USING ERRCODE = '57014';
              END IF;
              PERFORM pg_sleep(0.001);
              INSERT INTO \(world.effects)(id, body) VALUES (id, body);
            END $$
            """)
        return world
    }

    private func config(
        _ world: AMQPWorld, batch: String = "{size: 50, max_wait: 20ms}", backoff: String = "200ms", extra: String = ""
    ) throws -> URL {
        try world.config(
            sql: "SELECT effect_\(world.name)($1, $2)",
            retry: "{max_attempts: 3, initial_backoff: \(backoff), jitter: 0}",
            batch: batch, extra: extra, sourceExtra: "queue_type: stream\n        stream: {start: first, max_age: 1h}")
    }

    private func storedPosition(_ world: AMQPWorld) async throws -> Int64? {
        let rows = try await world.sql(
            "SELECT next_offset FROM \(world.table)_offsets WHERE consumer = $1 AND topic = $2",
            [world.name, world.queue])
        return rows.rows.first?[0].flatMap { Int64($0) }
    }

    private func cleanUp(_ world: AMQPWorld) async throws {
        try await world.sql("DROP FUNCTION effect_\(world.name)(text, text)")
        try await world.sql("DROP SEQUENCE flaky_\(world.name)")
        try await world.cleanUp()
    }

    @Test func aStreamIsReadFromItsStoredPositionWithEachEffectOnce() async throws {
        let world = try await makeWorld()
        let config = try config(world)
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        // 30 messages with 10 duplicates, one that fails once, one without a message-id.
        var messages = (0..<30).map {
            (body: "s \($0 % 20)", messageId: Optional("s-\($0 % 20)"), headers: AMQPTable())
        }
        messages.append(("flaky", "f-1", AMQPTable()))
        messages.append(("no id", nil, AMQPTable()))
        try await world.publish(messages)
        // `flaky` is read again from the stream after its delay; the position passes it then.
        try await world.eventually(30, "21 effects, a dead letter, the position stored past all 32 records") {
            let effects = try await world.effectCounts()
            let dead = try await world.queueDepth(world.deadLetterQueue)
            let position = try await storedPosition(world)
            return effects.rows == 21 && dead == 1 && position == 32
        }
        #expect(try await world.effectCounts().distinct == 21)
        #expect(try await worker.stop() == 0)
        #expect(try await storedPosition(world) == 32)
        #expect(!worker.logText.contains("NOT_IMPLEMENTED"), "nothing was nacked: \(worker.logText)")

        // The stream keeps every record; idem declared it so, and the dead letters in a
        // quorum queue (declaring them so again is a no-op, as a classic queue it is refused).
        let check = try await world.amqp()
        _ = try await check.declareQueue(
            name: world.queue, durable: true, exclusive: false, autoDelete: false,
            arguments: ["x-queue-type": .utf8("stream"), "x-max-age": .utf8("3600s")])
        _ = try await check.declareQueue(
            name: world.deadLetterQueue, durable: true, exclusive: false, autoDelete: false,
            arguments: ["x-queue-type": .utf8("quorum")])
        await #expect(throws: AMQPError.self) {
            _ = try await check.declareQueue(
                name: world.queue, durable: true, exclusive: false, autoDelete: false, arguments: AMQPTable())
        }
        await check.close()
        let dead = try await world.drainDeadLetters()
        #expect(dead.map { $0.properties.headers["x-idem-reason"] } == [.utf8("poison:no-id")])

        // A second worker attaches at the stored position: it reads only the new records.
        try await world.publish((0..<10).map { ("n \($0)", "n-\($0)", AMQPTable()) })
        let second = try WorkerProcess(config: config)
        try await second.waitUntilConsuming()
        try await world.eventually(30, "31 effects, the position at 42") {
            let position = try await storedPosition(world)
            return try await world.effectCounts().rows == 31 && position == 42
        }
        #expect(second.logText.contains("stream_offset=32"), "attached at the stored position: \(second.logText)")
        #expect(try await world.effectCounts().distinct == 31)
        #expect(try await second.stop() == 0)
        try await cleanUp(world)
    }

    @Test func killMinusNineMidStreamThenRestartLosesAndDoublesNothing() async throws {
        let world = try await makeWorld()
        // Small batches (a backlog would grow them to max_size), so that the kill lands
        // mid-stream.
        let config = try config(world, batch: "{size: 20, max_size: 20, max_wait: 5ms}")
        try await world.migrate(config)
        let first = try WorkerProcess(config: config)
        try await first.waitUntilConsuming()
        try await world.publish((0..<600).map { ("body \($0)", "k-\($0)", AMQPTable()) })
        try await world.eventually(30, "some effects") { try await world.effectCounts().rows >= 150 }
        #expect(try await first.stop(SIGKILL) == SIGKILL)
        let done = try await world.effectCounts().rows
        #expect(done < 600, "killed mid-stream (\(done) done)")
        // The position stored lags what was done: the restart reads some records again, and
        // the dedup table answers them as duplicates.
        let stored = try await storedPosition(world) ?? 0
        #expect(stored <= Int64(done))
        let second = try WorkerProcess(config: config)
        try await second.waitUntilConsuming()
        try await world.eventually(60, "600 effects, the position at 600") {
            let position = try await storedPosition(world)
            return try await world.effectCounts().rows >= 600 && position == 600
        }
        let effects = try await world.effectCounts()
        #expect(effects.rows == 600, "no effect twice")
        #expect(effects.distinct == 600, "none lost")
        #expect(try await second.stop() == 0)
        try await cleanUp(world)
    }

    @Test func aPausedStreamConsumerAttachesAgainPastWhatItReceived() async throws {
        let world = try await makeWorld()
        let token = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let config = try config(world, extra: "admin: {enabled: true, listen: \"127.0.0.1:0\", token: \"\(token)\"}")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let admin = try await OperationsEndpoint.of(worker, "admin API")
        try await world.publish((0..<20).map { ("before \($0)", "b-\($0)", AMQPTable()) })
        try await world.eventually(30, "the first 20 effects") { try await world.effectCounts().rows == 20 }

        let paused = try await admin.get("/admin/consumers/\(world.name)/pause", method: "POST", token: token)
        #expect(paused.status == 200, "\(paused.body)")
        try await world.eventually(10, "no consumer on the stream") {
            let connection = try await world.amqp()
            defer { Task { await connection.close() } }
            return try await connection.inspectQueue(world.queue).consumerCount == 0
        }
        try await world.publish((0..<30).map { ("while paused \($0)", "p-\($0)", AMQPTable()) })
        try await Task.sleep(for: .seconds(1.5))
        #expect(try await world.effectCounts().rows == 20, "nothing is read while paused")

        let resumed = try await admin.get("/admin/consumers/\(world.name)/resume", method: "POST", token: token)
        #expect(resumed.status == 200, "\(resumed.body)")
        try await world.eventually(30, "50 effects, the position at 50") {
            let position = try await storedPosition(world)
            return try await world.effectCounts().rows == 50 && position == 50
        }
        #expect(try await world.effectCounts().distinct == 50)
        // Attached again one past the last record received, not at the start.
        let resumedLine = worker.logText.split(separator: "\n").first { $0.contains("resumed by an operator") }
        #expect(resumedLine?.contains("stream_offset=20") == true, "\(worker.logText)")
        #expect(try await worker.stop() == 0)
        try await cleanUp(world)
    }

    @Test func aRecordWaitingToBeRetriedHoldsTheStoredPositionAcrossARestart() async throws {
        let world = try await makeWorld()
        let config = try config(world, backoff: "30s")
        try await world.migrate(config)
        let first = try WorkerProcess(config: config)
        try await first.waitUntilConsuming()
        var messages = (0..<10).map { (body: "a \($0)", messageId: Optional("a-\($0)"), headers: AMQPTable()) }
        messages.append(("flaky", "f-1", AMQPTable()))
        messages += (0..<10).map { ("b \($0)", "b-\($0)", AMQPTable()) }
        try await world.publish(messages)
        // The records after `flaky` were received before the consumer stopped reading; they
        // are done, and the position waits at `flaky` (offset 10) for its retry.
        try await world.eventually(30, "20 effects, the position at the record to retry") {
            let position = try await storedPosition(world)
            return try await world.effectCounts().rows == 20 && position == 10
        }
        #expect(try await first.stop() == 0)
        #expect(try await storedPosition(world) == 10, "stopped before the retry: the position stays below it")

        let second = try WorkerProcess(config: config)
        try await second.waitUntilConsuming()
        try await world.eventually(30, "21 effects, the position at 21") {
            let position = try await storedPosition(world)
            return try await world.effectCounts().rows == 21 && position == 21
        }
        let effects = try await world.effectCounts()
        #expect(effects.distinct == 21, "the records after it were read again, and were duplicates")
        #expect(try await second.stop() == 0)
        try await cleanUp(world)
    }
}
