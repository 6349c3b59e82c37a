import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// The operations listener of `idem run`: what `/metrics` counts, and the probes.
@Suite("Metrics and health endpoints", .serialized)
struct OperationsEndpointTests {
    @Test func eachCounterMatchesWhatHappened() async throws {
        let world = try await AMQPWorld.make()
        // The handler's check: 'reject' bodies fail permanently (SQLSTATE 23514), and the
        // first attempt at the ID 'flaky' fails transiently (57014); a sequence counts the
        // attempts, since a failed statement rolls back any row it wrote.
        try await world.sql("CREATE SEQUENCE seq_\(world.name)_flaky")
        try await world.sql(
            """
            CREATE OR REPLACE FUNCTION check_\(world.name)(id text, body text) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN
                IF body = 'reject' THEN RAISE EXCEPTION 'rejected %', id USING ERRCODE = '23514'; END IF;
                IF id = 'flaky' AND nextval('seq_\(world.name)_flaky') = 1 THEN
                    RAISE EXCEPTION 'busy' USING ERRCODE = '57014';
                END IF;
                RETURN true;
            END $$
            """)
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body) SELECT $1, $2 WHERE check_\(world.name)($1, $2)",
            retry: "{max_attempts: 3, initial_backoff: 200ms, jitter: 0}")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let endpoint = try await OperationsEndpoint.of(worker)

        // 5 new IDs, 2 redeliveries, 1 copy of m-3 with another body, 1 transient failure
        // then success, 1 reject: 10 deliveries, 11 with the retry's.
        var messages: [(body: String, messageId: String?, headers: AMQPTable)] = (1...5).map {
            ("body \($0)", "m-\($0)", AMQPTable())
        }
        try await world.publish(messages)
        try await world.eventually(30, "the first 5 effects") { try await world.effectCounts().rows == 5 }
        messages = [
            ("body 1", "m-1", AMQPTable()), ("body 2", "m-2", AMQPTable()), ("another body", "m-3", AMQPTable()),
            ("works the second time", "flaky", AMQPTable()), ("reject", "bad", AMQPTable()),
        ]
        try await world.publish(messages)
        try await world.eventually(30, "6 effects and 2 dead letters") {
            let rows = try await world.effectCounts().rows
            let dead = try await world.queueDepth(world.deadLetterQueue)
            return rows == 6 && dead == 2
        }
        let consumer = "consumer=\"\(world.name)\""
        try await world.eventually(10, "the counters to catch up") {
            try await endpoint.sample("idem_messages_received_total", consumer) == 11
        }
        let sample = try await endpoint.scrape(consumer: world.name)
        #expect(sample("idem_messages_received_total") == 11, "\(sample.text)")
        #expect(sample("idem_messages_processed_total") == 6)
        #expect(sample("idem_messages_duplicate_total") == 2)
        #expect(sample("idem_messages_retried_total") == 1)
        #expect(sample("idem_payload_conflicts_total") == 1)
        #expect(sample("idem_messages_dead_lettered_total", "reason=\"rejected\"") == 1)
        #expect(sample("idem_messages_dead_lettered_total", "reason=\"payload-conflict\"") == 1)
        #expect(sample("idem_stale_fence_refused_total") == 0)
        #expect(sample("idem_messages_in_flight") == 0)
        // The sql handler's statements run pipelined in the dedup transaction: they are
        // timed as its round trips, not one by one.
        #expect(sample("idem_handler_duration_seconds_count") == 0)
        #expect(sample("idem_batch_size_sum") == 11)
        #expect((sample("idem_dedup_round_trip_seconds_count", "operation=\"transaction\"") ?? 0) >= 3)
        #expect(OperationsEndpoint.sample(in: sample.text, "idem_postgres_up") == 1)
        #expect(try await endpoint.get("/healthz") == (200, "ok\n"))
        let ready = try await endpoint.get("/readyz")
        #expect(ready.status == 200)
        #expect(ready.body.contains("consumer \(world.name): consuming"))
        #expect(try await endpoint.get("/nothing-here").status == 404)

        // The same counts reach the per-minute table once the worker stops.
        #expect(try await worker.stop() == 0)
        let stats = try await world.sql(
            """
            SELECT sum(received), sum(processed), sum(duplicates), sum(retried), sum(dead_lettered),
                   sum(payload_conflicts)
            FROM \(world.table)_stats WHERE consumer = $1
            """, [world.name])
        #expect(stats.rows.first == ["11", "6", "2", "1", "2", "1"])
        try await world.sql("DROP FUNCTION check_\(world.name)(text, text)")
        try await world.sql("DROP SEQUENCE seq_\(world.name)_flaky")
        try await world.cleanUp()
    }

    /// Adaptive batches: after a batch that filled `batch.size`, the next waits (up to
    /// `max_wait`) to fill `batch.max_size`, so messages that trickle in after a backlog
    /// make one batch, not one per `batch.size`.
    @Test func aBatchThatFilledMakesTheNextWaitForMaxSize() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config(batch: "{size: 10, max_size: 500, max_wait: 2s}", concurrency: 1)
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let endpoint = try await OperationsEndpoint.of(worker)
        let consumer = "consumer=\"\(world.name)\""

        try await world.publish((1...10).map { ("body \($0)", "a-\($0)", AMQPTable()) })
        try await world.eventually(30, "the first batch") { try await world.effectCounts().rows == 10 }
        #expect(try await endpoint.sample("idem_batch_size_count", consumer) == 1)
        // 15 messages over about 300 ms: with a target of batch.size they would make a
        // batch of 10 and one of 5.
        for n in 1...15 {
            try await world.publish([("body \(n)", "b-\(n)", AMQPTable())])
            try await Task.sleep(for: .milliseconds(20))
        }
        try await world.eventually(30, "the trickled messages") { try await world.effectCounts().rows == 25 }
        try await world.eventually(10, "the counters to catch up") {
            try await endpoint.sample("idem_batch_size_sum", consumer) == 25
        }
        #expect(try await endpoint.sample("idem_batch_size_count", consumer) == 2)
        #expect(try await worker.stop() == 0)
    }

    @Test func leaseModeTimesEachHandlerCallAndEachRoundTrip() async throws {
        let world = try await AMQPWorld.make()
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let script = repository.appendingPathComponent("Examples/exec/handler.py").path
        let config = try world.config(id: "[{json: /id}]", handler: "{exec: [python3, \"\(script)\"]}")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let endpoint = try await OperationsEndpoint.of(worker)
        try await world.publish([
            (#"{"id": "a"}"#, nil, AMQPTable()), (#"{"id": "b"}"#, nil, AMQPTable()),
            (#"{"id": "c", "reject": true}"#, nil, AMQPTable()), (#"{"id": "a"}"#, nil, AMQPTable()),
        ])
        let consumer = "consumer=\"\(world.name)\""
        // The second "a" is a duplicate once the first is done; when it reaches a batch
        // while the first is still in the handler, it is retried first (a live lease).
        try await world.eventually(30, "the duplicate counted") {
            let duplicates = try await endpoint.sample("idem_messages_duplicate_total", consumer)
            let processed = try await endpoint.sample("idem_messages_processed_total", consumer)
            return duplicates == 1 && processed == 2
        }
        let sample = try await endpoint.scrape(consumer: world.name)
        #expect(sample("idem_messages_processed_total") == 2, "\(sample.text)")
        #expect(sample("idem_messages_duplicate_total") == 1)
        #expect(sample("idem_messages_dead_lettered_total", "reason=\"rejected\"") == 1)
        // Three handler calls (the duplicate never reaches the handler), each timed.
        #expect(sample("idem_handler_duration_seconds_count") == 3)
        #expect((sample("idem_dedup_round_trip_seconds_count", "operation=\"claim\"") ?? 0) >= 1)
        #expect((sample("idem_dedup_round_trip_seconds_count", "operation=\"finish\"") ?? 0) >= 1)
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func aBusyMetricsPortIsAClearStartupError() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config()
        try await world.migrate(config)
        let first = try WorkerProcess(config: config)
        try await first.waitUntilConsuming()
        let endpoint = try await OperationsEndpoint.of(first)
        let taken = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(
            of: "listen: \"127.0.0.1:0\"", with: "listen: \"\(endpoint.base.host!):\(endpoint.base.port!)\"")
        let run = try await IdemProcess.run(["run", "--config", try IdemProcess.temporaryFile(taken).path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("cannot listen on \(endpoint.base.host!):\(endpoint.base.port!)"), "\(run.stderr)")
        #expect(run.stderr.contains("metrics.listen"))
        #expect(try await first.stop() == 0)
        try await world.cleanUp()
    }
}
