import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// W3C Trace Context through a RabbitMQ consumer: logged with the message, kept on its dead
/// letter and on its replay.
@Suite("Trace context on RabbitMQ, end to end", .serialized)
struct TraceContextTests {
    @Test func theTraceIsLoggedKeptOnTheDeadLetterAndOnTheReplay() async throws {
        let world = try await AMQPWorld.make()
        try await world.sql(
            "ALTER TABLE \(world.effects) ADD CONSTRAINT no_blocked CHECK (body <> 'blocked') NOT VALID")
        let config = try world.config()
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        var headers = AMQPTable()
        headers["traceparent"] = .utf8(parent)
        headers["tracestate"] = .utf8("congo=t61rcWkgMzE")
        try await world.publish([("blocked", "t-1", headers)])
        try await world.eventually(30, "the dead letter") { try await world.queueDepth(world.deadLetterQueue) == 1 }
        try await world.eventually(10, "the dead-letter log line") { worker.logText.contains("dead-lettered") }
        let line = worker.logText.split(separator: "\n").first { $0.contains("dead-lettered") } ?? ""
        #expect(line.contains("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"), "\(line)")
        #expect(try await worker.stop() == 0)

        let shown = try await IdemProcess.run([
            "dlq", "show", "--config", config.path, "--consumer", world.name, "--id", "t-1",
        ])
        #expect(shown.stdout.contains("traceparent: \(parent)"), "\(shown.stdout)")
        #expect(shown.stdout.contains("tracestate: congo=t61rcWkgMzE"), "\(shown.stdout)")
        let replay = try await IdemProcess.run([
            "dlq", "replay", "--config", config.path, "--consumer", world.name, "--id", "t-1",
        ])
        #expect(replay.status == 0, "\(replay.stderr)")
        let connection = try await world.amqp()
        let replayed = try #require(try await connection.get(queue: world.queue, autoAck: true))
        await connection.close()
        #expect(replayed.properties.headers["traceparent"] == .utf8(parent))
        #expect(replayed.properties.headers["tracestate"] == .utf8("congo=t61rcWkgMzE"))
        try await world.cleanUp()
    }
}
