import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// `idem run` against the real RabbitMQ and PostgreSQL: each promise of the RabbitMQ
/// consumer, end to end.
@Suite("RabbitMQ consumer, end to end", .serialized)
struct AMQPConsumerTests {
    @Test(arguments: ["message_id", "header", "content_hash"])
    func duplicatesHaveTheirEffectOnce(by source: String) async throws {
        let world = try await AMQPWorld.make()
        let id: String
        switch source {
        case "message_id": id = "[message_id]"
        case "header": id = "[{header: X-Request-Id}]"
        default: id = "[content_hash]"
        }
        let config = try world.config(id: id)
        try await world.migrate(config)
        var messages: [(body: String, messageId: String?, headers: AMQPTable)] = []
        for copy in 0..<3 {
            for n in 0..<100 {
                _ = copy
                let body = "order \(n)"
                var headers = AMQPTable()
                headers["X-Request-Id"] = .utf8("req-\(n)")
                messages.append((body, "m-\(n)", headers))
            }
        }
        try await world.publish(messages.shuffled())
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "100 effects") {
            let rows = try await world.effectCounts().rows
            let depth = try await world.queueDepth()
            return rows >= 100 && depth == 0
        }
        try await Task.sleep(for: .milliseconds(500))
        let counts = try await world.effectCounts()
        #expect(counts.rows == 100, "\(worker.logText)")
        #expect(counts.distinct == 100)
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func poisonGoesToTheDeadLetterQueueWithItsHeaders() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config(
            id: "[{json: /order/id}]", sql: "INSERT INTO \(world.effects)(id, body) VALUES ($1, $2::numeric)",
            params: #"[id, "json:/amount"]"#)
        try await world.sql("ALTER TABLE \(world.effects) ALTER COLUMN body TYPE numeric USING body::numeric")
        try await world.sql("ALTER TABLE \(world.effects) ADD CHECK (body > 0)")
        try await world.migrate(config)
        try await world.publish([
            (#"{"order": {"id": "ok-1"}, "amount": 5}"#, nil, AMQPTable()),
            ("not json at all", nil, AMQPTable()),  // no ID: bad JSON for a json ID
            (#"{"order": {}}"#, nil, AMQPTable()),  // no ID: missing field
            (#"{"order": {"id": "neg"}, "amount": -3}"#, nil, AMQPTable()),  // handler reject: CHECK
            (#"{"order": {"id": "noamount"}}"#, nil, AMQPTable()),  // poison: sql parameter missing
        ])
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "4 dead letters") { try await world.queueDepth(world.deadLetterQueue) >= 4 }
        let dead = try await world.drainDeadLetters()
        #expect(dead.count == 4, "\(worker.logText)")
        let reasons = Dictionary(
            grouping: dead,
            by: { delivery -> String in
                if case .utf8(let reason)? = delivery.properties.headers["x-idem-reason"] { return reason }
                return "?"
            })
        #expect(reasons["poison:no-id"]?.count == 2)
        #expect(reasons["rejected"]?.count == 1)
        #expect(reasons["poison:undecodable"]?.count == 1)
        for delivery in dead {
            let headers = delivery.properties.headers
            #expect(headers["x-idem-source"] == .utf8("amqp:\(world.queue)"))
            #expect(headers["x-idem-consumer"] == .utf8(world.name))
            #expect(headers["x-idem-last-error"] != nil)
            #expect(headers["x-idem-first-seen"] != nil)
            #expect(headers["x-idem-attempts"] != nil)
        }
        if let rejected = reasons["rejected"]?.first {
            #expect(rejected.properties.headers["x-idem-attempts"] == .i64(1))
            #expect(String(decoding: rejected.body, as: UTF8.self).contains("neg"))
        }
        #expect(try await world.effectCounts().rows == 1)
        #expect(try await world.queueDepth() == 0)
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func aNamedDeadLetterExchangeIsDeclaredBoundAndUsed() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config(id: "[{json: /id}]", deadLetterExchange: world.deadLetterExchange)
        try await world.migrate(config)
        try await world.publish([("no json here", nil, AMQPTable()), (#"{"id": "fine"}"#, nil, AMQPTable())])
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "a dead letter") { try await world.queueDepth(world.deadLetterQueue) >= 1 }
        let dead = try await world.drainDeadLetters()
        #expect(dead.count == 1)
        #expect(dead.first?.exchange == world.deadLetterExchange)
        #expect(dead.first?.routingKey == world.deadLetterQueue)
        #expect(dead.first?.properties.headers["x-idem-reason"] == .utf8("poison:no-id"))
        try await world.eventually(30, "one effect") { try await world.effectCounts().rows == 1 }
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func transientFailuresAreRetriedWithBackoffThenDeadLettered() async throws {
        let world = try await AMQPWorld.make()
        // A statement that always fails with a transient SQLSTATE (57014, query_canceled).
        try await world.sql(
            """
            CREATE OR REPLACE FUNCTION fail_\(world.name)(text) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'downstream busy for %', $1 USING ERRCODE = '57014'; END $$
            """)
        let config = try world.config(
            sql: "SELECT fail_\(world.name)($1)", params: "[id]",
            retry: "{max_attempts: 3, initial_backoff: 300ms, multiplier: 2, jitter: 0}")
        try await world.migrate(config)
        try await world.publish([("payload", "t-1", AMQPTable())])
        let started = Date()
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "a dead letter") { try await world.queueDepth(world.deadLetterQueue) >= 1 }
        let elapsed = Date().timeIntervalSince(started)
        let dead = try await world.drainDeadLetters()
        #expect(dead.count == 1)
        #expect(dead.first?.properties.headers["x-idem-reason"] == .utf8("attempts-exhausted"))
        #expect(dead.first?.properties.headers["x-idem-attempts"] == .i64(3))
        // Two delays of 300 ms and 600 ms came between the three attempts.
        #expect(elapsed >= 0.9, "dead-lettered after \(elapsed) s")
        let row = try await world.sql(
            "SELECT attempts, status, last_error FROM \(world.table) WHERE message_id = 't-1'")
        #expect(row.rows.first?[0] == "3")
        #expect(row.rows.first?[1] == "dead")
        // x-idem-first-seen is when the row was created, at the first attempt, not when the
        // message was dead-lettered.
        let seen = try await world.sql(
            "SELECT floor(extract(epoch FROM first_seen_at))::bigint FROM \(world.table) WHERE message_id = 't-1'")
        let firstSeen = try #require(seen.rows.first?[0].flatMap { UInt64($0) })
        #expect(dead.first?.properties.headers["x-idem-first-seen"] == .timestamp(firstSeen))
        #expect(row.rows.first?[2]?.contains("downstream busy for t-1") == true)
        #expect(try await worker.stop() == 0)
        try await world.sql("DROP FUNCTION fail_\(world.name)(text)")
        try await world.cleanUp()
    }

    @Test func killMinusNineMidStreamThenRestartLosesAndDoublesNothing() async throws {
        let world = try await AMQPWorld.make()
        // Each effect takes a little while, and batches stay small (a backlog would grow
        // them to max_size), so that the kill lands mid-stream.
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body) SELECT $1, $2 FROM pg_sleep(0.002)",
            batch: "{size: 20, max_size: 20, max_wait: 5ms}")
        try await world.migrate(config)
        try await world.publish((0..<600).map { ("body \($0)", "k-\($0)", AMQPTable()) })
        let first = try WorkerProcess(config: config)
        try await first.waitUntilConsuming()
        try await world.eventually(30, "some progress") { try await world.effectCounts().rows >= 100 }
        #expect(try await first.stop(SIGKILL) == SIGKILL)
        let second = try WorkerProcess(config: config)
        try await second.waitUntilConsuming()
        try await world.eventually(60, "600 effects") {
            let rows = try await world.effectCounts().rows
            let depth = try await world.queueDepth()
            return rows >= 600 && depth == 0
        }
        try await Task.sleep(for: .milliseconds(500))
        let counts = try await world.effectCounts()
        #expect(counts.rows == 600, "\(second.logText)")
        #expect(counts.distinct == 600)
        #expect(try await second.stop() == 0)
        try await world.cleanUp()
    }

    @Test func concurrentBatchesFinishingOutOfOrderAreAckedWithoutChannelErrors() async throws {
        let world = try await AMQPWorld.make()
        // Effects of random length, so that later batches often commit before earlier ones;
        // an ack naming a tag an earlier ack covered would close the channel (406).
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body) SELECT $1, $2 FROM pg_sleep(random() * 0.01)",
            batch: "{size: 5, max_wait: 2ms}", concurrency: 6, prefetch: 60)
        try await world.migrate(config)
        try await world.publish((0..<400).map { ("c\($0)", "o-\($0)", AMQPTable()) })
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(60, "400 effects") {
            let rows = try await world.effectCounts().rows
            let depth = try await world.queueDepth()
            return rows >= 400 && depth == 0
        }
        let counts = try await world.effectCounts()
        #expect(counts.rows == 400)
        #expect(counts.distinct == 400)
        #expect(try await worker.stop() == 0)
        #expect(!worker.logText.contains("reconnecting"), "\(worker.logText)")
        #expect(!worker.logText.contains("PRECONDITION"), "\(worker.logText)")
        // Every delivery was acked: nothing came back to the queue when the worker closed.
        #expect(try await world.queueDepth() == 0)
        try await world.cleanUp()
    }

    @Test func gracefulShutdownLeavesNoCommittedEffectUnacked() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body) SELECT $1, $2 FROM pg_sleep(0.003)",
            batch: "{size: 10, max_wait: 5ms}", concurrency: 4, prefetch: 80)
        try await world.migrate(config)
        let total = 2000
        try await world.publish((0..<total).map { ("g\($0)", "g-\($0)", AMQPTable()) })
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "some progress") { try await world.effectCounts().rows >= 100 }
        #expect(try await worker.stop(SIGTERM) == 0, "\(worker.logText)")
        let done = try await world.effectCounts()
        #expect(done.rows == done.distinct)
        #expect(done.rows < total, "the worker was stopped mid-queue")
        // What committed was acked, and only that: the queue holds exactly the rest.
        try await world.eventually(10, "the unacked deliveries back in the queue") {
            try await world.queueDepth() == UInt32(total - done.rows)
        }
        #expect(try await world.queueDepth() == UInt32(total - done.rows))
        try await world.cleanUp()
    }

    @Test func twoWorkersOnOneQueueHaveEachEffectOnce() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config(batch: "{size: 10, max_wait: 5ms}")
        try await world.migrate(config)
        // Every message twice, so that both workers see copies of the same IDs.
        let messages = (0..<300).flatMap { n in [("b\(n)", "w-\(n)", AMQPTable()), ("b\(n)", "w-\(n)", AMQPTable())] }
        let a = try WorkerProcess(config: config)
        let b = try WorkerProcess(config: config)
        try await a.waitUntilConsuming()
        try await b.waitUntilConsuming()
        try await world.publish(messages.map { (body: $0.0, messageId: $0.1, headers: $0.2) })
        try await world.eventually(60, "300 effects") {
            let rows = try await world.effectCounts().rows
            let depth = try await world.queueDepth()
            return rows >= 300 && depth == 0
        }
        try await Task.sleep(for: .milliseconds(500))
        let counts = try await world.effectCounts()
        #expect(counts.rows == 300)
        #expect(counts.distinct == 300)
        #expect(try await a.stop() == 0)
        #expect(try await b.stop() == 0)
        try await world.cleanUp()
    }

    @Test func aBrokerConnectionLossIsSurvived() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config()
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.publish((0..<100).map { ("x\($0)", "c-\($0)", AMQPTable()) })
        try await world.eventually(30, "first 100 effects") { try await world.effectCounts().rows >= 100 }
        // The broker drops every connection of the worker (as on a broker restart).
        try await RabbitControl.closeConnections(named: "idem-\(world.name)")
        try await world.publish((100..<200).map { ("x\($0)", "c-\($0)", AMQPTable()) })
        try await world.eventually(60, "200 effects") {
            let rows = try await world.effectCounts().rows
            let depth = try await world.queueDepth()
            return rows >= 200 && depth == 0
        }
        let counts = try await world.effectCounts()
        #expect(counts.rows == 200)
        #expect(counts.distinct == 200)
        #expect(worker.logText.contains("reconnecting"))
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }
}
