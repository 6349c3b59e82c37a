import Foundation
import IdemTestSupport
import Testing

/// Span export on Kafka: a consumer span per record, in the trace of the producer's
/// `traceparent` header, naming the topic, partition, offset and group.
@Suite("Kafka consumer spans, end to end", .serialized)
struct KafkaSpanTests {
    @Test func eachRecordGetsASpanThatTheHandlerContinues() async throws {
        let collector = try await OTLPReceiver.start()
        let world = try await KafkaWorld.make(partitions: 2)
        let config = try world.config(
            params: "[id, \"header:traceparent\", source]",
            extra: "tracing: {enabled: true, endpoint: \"\(collector.endpoint)\", encoding: json}")
        try await world.migrate(config)
        let producerTrace = "0af7651916cd43dd8448eb211c80319c"
        try await world.produce([
            ("a", "one", ["event-id": "k-1", "traceparent": "00-\(producerTrace)-b7ad6b7169203331-01"]),
            ("b", "two", ["event-id": "k-2"]),
            ("a", "one", ["event-id": "k-1", "traceparent": "00-\(producerTrace)-b7ad6b7169203331-01"]),
        ])
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.eventually(60, "two effects") { try await world.effectCounts().rows == 2 }
        #expect(try await worker.stop() == 0)
        try await world.eventually(10, "three spans at the collector") { collector.spans.count >= 3 }
        let spans = collector.spans
        #expect(spans.count == 3, "\(spans)")
        #expect(spans.allSatisfy { $0.name == "process \(world.topic)" && $0.kind == 5 }, "\(spans)")
        #expect(spans.allSatisfy { $0.attributes["messaging.system"] == "kafka" })
        #expect(spans.allSatisfy { $0.attributes["messaging.consumer.group.name"] == world.group })
        let traced = spans.filter { $0.traceID == producerTrace }
        #expect(traced.count == 2, "\(spans)")
        #expect(traced.allSatisfy { $0.parentSpanID == "b7ad6b7169203331" })
        #expect(Set(traced.map { $0.attributes["idem.outcome"] ?? "" }) == ["processed", "duplicate"])
        let processed = try #require(traced.first { $0.attributes["idem.outcome"] == "processed" })
        let rows = try await world.sql("SELECT body, source FROM \(world.effects) WHERE id = 'k-1'").rows
        let row = try #require(rows.first)
        #expect(row[0] == "00-\(producerTrace)-\(processed.spanID)-01", "the handler was handed idem's span")
        // The source is TOPIC:PARTITION:OFFSET: the span names the same partition and offset.
        let source = try #require(row[1]).split(separator: ":")
        #expect(processed.attributes["messaging.destination.partition.id"] == String(source[source.count - 2]))
        #expect(processed.attributes["messaging.kafka.offset"] == String(source[source.count - 1]))
        await collector.stop()
        try await world.cleanUp()
    }
}
