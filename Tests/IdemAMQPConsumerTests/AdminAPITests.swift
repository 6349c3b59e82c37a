import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// The admin API of `idem run` and `idem ctl`, against a RabbitMQ consumer.
@Suite("Admin API: pause and resume", .serialized)
struct AdminAPITests {
    private static func adminSection(token: String) -> String {
        "admin: {enabled: true, listen: \"127.0.0.1:0\", token: \"\(token)\"}"
    }

    private static func token() -> String {
        UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// `idem ctl` against `admin`, with `token` in a file.
    private static func ctl(_ arguments: [String], admin: OperationsEndpoint, token: String) async throws
        -> IdemProcess.Outcome
    {
        let file = try IdemProcess.temporaryFile(token + "\n", suffix: ".token")
        defer { try? FileManager.default.removeItem(at: file) }
        return try await IdemProcess.run(
            ["ctl"] + arguments + ["--url", admin.base.absoluteString, "--token-file", file.path])
    }

    /// A world and a worker of it with the admin API on, and its token.
    private static func start() async throws -> (AMQPWorld, WorkerProcess, String) {
        let world = try await AMQPWorld.make()
        let token = token()
        let config = try world.config(extra: adminSection(token: token))
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        return (world, worker, token)
    }

    @Test func aPausedConsumerTakesNothingNewAndResumesWithEachEffectOnce() async throws {
        let (world, worker, token) = try await Self.start()
        let admin = try await OperationsEndpoint.of(worker, "admin API")
        let operations = try await OperationsEndpoint.of(worker)

        try await world.publish((0..<20).map { ("before \($0)", "b-\($0)", AMQPTable()) })
        try await world.eventually(30, "the first 20 effects") { try await world.effectCounts().rows == 20 }

        let paused = try await Self.ctl(["pause", world.name], admin: admin, token: token)
        #expect(paused.status == 0, "\(paused.stderr)")
        #expect(paused.stdout == "\(world.name): paused\n")
        let again = try await Self.ctl(["pause", world.name], admin: admin, token: token)
        #expect(again.stdout == "\(world.name): already paused\n", "\(again.stderr)")
        // The worker's subscription to the queue is gone, and /readyz says why, still ready.
        try await world.eventually(10, "no consumer on the queue") {
            let connection = try await world.amqp()
            defer { Task { await connection.close() } }
            return try await connection.inspectQueue(world.queue).consumerCount == 0
        }
        let ready = try await operations.get("/readyz")
        #expect(ready.status == 200, "\(ready.body)")
        #expect(ready.body.contains("consumer \(world.name): paused by an operator since "), "\(ready.body)")

        try await world.publish((0..<30).map { ("while paused \($0)", "p-\($0)", AMQPTable()) })
        try await Task.sleep(for: .seconds(2))
        #expect(try await world.effectCounts().rows == 20, "nothing is processed while paused")
        #expect(try await world.queueDepth() == 30, "the messages wait in the queue")
        // The listing shows the pause and, once the worker read the queue's depth, the lag.
        try await world.eventually(15, "a lag of 30 in the listing") {
            let listing = try await Self.ctl(["consumers", "--json"], admin: admin, token: token)
            return listing.stdout.contains("\"lag\":30") && listing.stdout.contains("\"paused\":true")
        }
        let table = try await Self.ctl(["consumers"], admin: admin, token: token)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.hasPrefix("CONSUMER"), "\(table.stdout)")
        #expect(table.stdout.contains("since 20"), "\(table.stdout)")

        let resumed = try await Self.ctl(["resume", world.name], admin: admin, token: token)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout == "\(world.name): resumed\n")
        try await world.eventually(30, "50 effects") { try await world.effectCounts().rows == 50 }
        let counts = try await world.effectCounts()
        #expect(counts.distinct == 50)
        #expect(try await world.queueDepth() == 0)
        let after = try await operations.get("/readyz")
        #expect(after.body.contains("consumer \(world.name): consuming"), "\(after.body)")
        #expect(worker.logText.contains("paused by an operator"))
        #expect(worker.logText.contains("resumed by an operator"))
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func aPauseTakenMidBatchFinishesWhatTheConsumerHoldsAndStopsCleanly() async throws {
        let world = try await AMQPWorld.make()
        let token = Self.token()
        // 50 ms per message: the pause lands while deliveries are held.
        let config = try world.config(
            sql: "INSERT INTO \(world.effects)(id, body) SELECT $1, $2 FROM pg_sleep(0.05)",
            batch: "{size: 5, max_wait: 5ms}", concurrency: 2, prefetch: 20,
            extra: Self.adminSection(token: token))
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let admin = try await OperationsEndpoint.of(worker, "admin API")
        try await world.publish((0..<200).map { ("slow \($0)", "s-\($0)", AMQPTable()) })
        try await world.eventually(30, "some effects") { try await world.effectCounts().rows >= 10 }
        let paused = try await admin.get("/admin/consumers/\(world.name)/pause", method: "POST", token: token)
        #expect(paused.status == 200, "\(paused.body)")
        // What was held is finished and acked: the queue keeps the rest, unacked none.
        try await world.eventually(30, "the held deliveries settled") {
            let done = try await world.effectCounts().rows
            let waiting = try await world.queueDepth()
            return done + Int(waiting) == 200
        }
        let held = try await world.effectCounts().rows
        #expect(held < 200, "the pause stopped the flow")
        try await Task.sleep(for: .seconds(1))
        #expect(try await world.effectCounts().rows == held)
        // A stop while paused is clean; a new worker is not paused (a pause lasts while
        // the process does) and finishes the rest.
        #expect(try await worker.stop() == 0)
        let next = try WorkerProcess(config: config)
        try await next.waitUntilConsuming()
        try await world.eventually(60, "200 effects") { try await world.effectCounts().rows == 200 }
        #expect(try await world.effectCounts().distinct == 200)
        #expect(try await next.stop() == 0)
        try await world.cleanUp()
    }

    @Test func requestsWithoutTheTokenAreRefusedAndMistakesAreNamed() async throws {
        let (world, worker, token) = try await Self.start()
        let admin = try await OperationsEndpoint.of(worker, "admin API")
        let operations = try await OperationsEndpoint.of(worker)

        let bare = try await admin.get("/admin/consumers")
        #expect(bare.status == 401, "\(bare.body)")
        #expect(bare.body.contains("bearer token"))
        let wrong = try await admin.get("/admin/consumers/\(world.name)/pause", method: "POST", token: token + "x")
        #expect(wrong.status == 401)
        #expect(try await admin.get("/admin/consumers", token: token).status == 200)
        // Not on the metrics port unless configured, and the admin listener serves nothing else.
        #expect(try await operations.get("/admin/consumers", token: token).status == 404)
        #expect(try await admin.get("/metrics", token: token).status == 404)
        #expect(try await admin.get("/admin/consumers/\(world.name)/pause", token: token).status == 405)

        let refused = try await Self.ctl(["pause", world.name], admin: admin, token: String(token.reversed()))
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("refused the token"), "\(refused.stderr)")
        let unknown = try await Self.ctl(["pause", "no-such-consumer"], admin: admin, token: token)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no consumer named 'no-such-consumer'"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains(world.name))
        #expect(!worker.logText.contains(token), "the token is never logged")
        // From the configuration alone: the address must be one ctl can know.
        let config = try world.config(extra: Self.adminSection(token: token))
        let anyPort = try await IdemProcess.run(["ctl", "consumers", "--config", config.path])
        #expect(anyPort.status == 2)
        #expect(anyPort.stderr.contains("any free port (port 0); give --url"), "\(anyPort.stderr)")
        let off = try await IdemProcess.run(["ctl", "consumers", "--config", try world.config().path])
        #expect(off.status == 2)
        #expect(off.stderr.contains("does not enable the admin API"), "\(off.stderr)")
        #expect(try await world.effectCounts().rows == 0)
        #expect(try await worker.stop() == 0)

        // With the worker gone, ctl says where it looked.
        let gone = try await Self.ctl(["consumers"], admin: admin, token: token)
        #expect(gone.status == 1)
        #expect(gone.stderr.contains("cannot reach the admin API at \(admin.base.absoluteString)"), "\(gone.stderr)")
        try await world.cleanUp()
    }
}
