import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// W3C Trace Context through a RabbitMQ consumer: logged with the message, kept on its dead
/// letter and on its replay; with `tracing:`, a consumer span per message sent to a
/// collector, which the handler continues.
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

    @Test func spansAreExportedAndTheHandlerContinuesIdemsSpan() async throws {
        let collector = try await OTLPReceiver.start()
        let world = try await AMQPWorld.make()
        // The handler stores the traceparent it was handed.
        let config = try world.config(
            params: "[id, \"header:traceparent\"]",
            extra:
                "tracing: {enabled: true, endpoint: \"\(collector.endpoint)\", encoding: json, service_name: idem-test}"
        )
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let producerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
        var traced = AMQPTable()
        traced["traceparent"] = .utf8("00-\(producerTrace)-00f067aa0ba902b7-01")
        try await world.publish([("one", "t-1", traced), ("two", "t-2", AMQPTable()), ("one", "t-1", traced)])
        try await world.eventually(30, "two effects") { try await world.effectCounts().rows == 2 }
        #expect(try await worker.stop() == 0)
        // The exporter sends the last spans as the worker stops.
        try await world.eventually(10, "three spans at the collector") { collector.spans.count >= 3 }
        let spans = collector.spans
        #expect(spans.count == 3, "\(spans)")
        #expect(spans.allSatisfy { $0.name == "process \(world.queue)" && $0.kind == 5 }, "\(spans)")
        #expect(spans.allSatisfy { $0.serviceName == "idem-test" })
        #expect(
            collector.requests.allSatisfy { $0.hasPrefix("POST /v1/traces application/json") }, "\(collector.requests)")

        let children = spans.filter { $0.traceID == producerTrace }
        #expect(children.count == 2, "both copies of t-1 continue the producer's trace: \(spans)")
        #expect(children.allSatisfy { $0.parentSpanID == "00f067aa0ba902b7" })
        #expect(Set(children.map { $0.attributes["idem.outcome"] ?? "" }) == ["processed", "duplicate"])
        let processed = try #require(children.first { $0.attributes["idem.outcome"] == "processed" })
        #expect(processed.attributes["messaging.system"] == "rabbitmq")
        #expect(processed.attributes["messaging.destination.name"] == world.queue)
        #expect(processed.attributes["idem.message_id"] == "t-1")
        #expect(processed.attributes["idem.consumer"] == world.name)

        let root = try #require(spans.first { $0.attributes["idem.message_id"] == "t-2" })
        #expect(root.parentSpanID.isEmpty, "a message without a trace context starts one")
        #expect(root.traceID != producerTrace && root.traceID.count == 32)

        // What the handler was handed: idem's span, in the producer's trace.
        let seen = try await world.sql("SELECT id, body FROM \(world.effects) ORDER BY id").rows
        #expect(seen.first?[1] == "00-\(producerTrace)-\(processed.spanID)-01", "\(seen)")
        #expect(seen.last?[1] == "00-\(root.traceID)-\(root.spanID)-01", "\(seen)")
        await collector.stop()
        try await world.cleanUp()
    }

    @Test func protobufIsTheDefaultEncoding() async throws {
        let collector = try await OTLPReceiver.start()
        let world = try await AMQPWorld.make()
        let config = try world.config(extra: "tracing: {enabled: true, endpoint: \"\(collector.endpoint)\"}")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        var traced = AMQPTable()
        traced["traceparent"] = .utf8("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        try await world.publish([("one", "p-1", traced)])
        try await world.eventually(30, "the effect") { try await world.effectCounts().rows == 1 }
        #expect(try await worker.stop() == 0)
        try await world.eventually(10, "an export") { !collector.bodies.isEmpty }
        #expect(collector.requests.allSatisfy { $0.hasPrefix("POST /v1/traces application/x-protobuf") })
        // The binary span carries the producer's trace ID as 16 bytes and the span's name.
        let body = collector.bodies.reduce(Data(), +)
        let traceID = Data([
            0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
        ])
        #expect(body.range(of: traceID) != nil)
        #expect(body.range(of: Data("process \(world.queue)".utf8)) != nil)
        await collector.stop()
        try await world.cleanUp()
    }

    @Test func anUnreachableCollectorCostsNoMessageAndDoesNotHoldUpTheStop() async throws {
        // A port nothing listens on: the receiver is started and stopped to find one.
        let closed = try await OTLPReceiver.start()
        let endpoint = closed.endpoint
        await closed.stop()
        let world = try await AMQPWorld.make()
        let config = try world.config(extra: "tracing: {enabled: true, endpoint: \"\(endpoint)\"}")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.publish((1...20).map { ("m\($0)", "u-\($0)", AMQPTable()) })
        try await world.eventually(30, "every effect") { try await world.effectCounts().rows == 20 }
        #expect(try await world.queueDepth() == 0)
        let started = ContinuousClock.now
        #expect(try await worker.stop(within: 30) == 0, "\(worker.logText.suffix(3000))")
        #expect(ContinuousClock.now - started < .seconds(20), "the stop waits at most the grace period")
        #expect(worker.logText.contains("exporting spans"))
        try await world.cleanUp()
    }
}
