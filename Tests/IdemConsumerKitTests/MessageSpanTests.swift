import IdemConfig
import IdemConsumerKit
import IdemConsumerKitTestSupport
import IdemCore
import IdemLogCapture
import InMemoryTracing
import Synchronization
import Testing
import Tracing

/// The consumer span of each message (`tracing:`), with swift-distributed-tracing's
/// in-memory tracer: one span per message, a child of the producer's, ended with idem's
/// decision, and the context a handler continues.
@Suite("Consumer spans, in memory")
struct MessageSpanTests {
    static func message(_ id: String?, headers: [String: HeaderValue] = [:]) -> Message {
        Message(
            body: Array("{}".utf8), headers: headers, properties: MessageProperties(messageId: id),
            source: MessageSource(kind: "amqp", description: "memory", features: .messageIDProperty))
    }

    static func attribute(_ span: FinishedInMemorySpan, _ name: String) -> SpanAttribute? {
        span.attributes[name]?.toSpanAttribute()
    }

    @Test("each message gets a consumer span named for its queue, ended with its outcome; failures are errors")
    func spanPerMessage() async {
        let tracer = InMemoryTracer()
        let effects = EffectLog { message, _ in message.properties.messageId == "bad" ? .reject("no such order") : nil }
        let processor = BatchProcessor(
            consumer: ConsumerHarness.consumer(), store: InMemoryDedupStore(), handler: effects,
            logger: LogCapture().logger(), tracer: tracer)
        let decisions = await processor.process([
            Self.message("a"), Self.message("a"), Self.message("bad"), Self.message(nil),
        ])
        #expect(decisions.count == 4)
        let spans = tracer.finishedSpans
        #expect(tracer.activeSpans.isEmpty, "every span is ended")
        #expect(spans.count == 4)
        #expect(spans.allSatisfy { $0.operationName == "process orders" && $0.kind == .consumer })
        #expect(
            spans.map { Self.attribute($0, "idem.outcome") } == [
                "processed", "duplicate", "dead-letter", "dead-letter",
            ])
        #expect(Self.attribute(spans[0], "idem.message_id") == "a")
        #expect(Self.attribute(spans[0], "idem.attempt") == 1)
        #expect(Self.attribute(spans[0], "messaging.system") == "rabbitmq")
        #expect(Self.attribute(spans[0], "messaging.destination.name") == "orders")
        #expect(Self.attribute(spans[2], "idem.dead_letter_reason") == "rejected")
        #expect(Self.attribute(spans[3], "idem.dead_letter_reason") == "poison:no-id")
        #expect(spans[0].status == nil)
        #expect(spans[2].status?.code == .error)
        #expect(spans[2].status?.message?.contains("no such order") == true)
    }

    @Test("a message's span continues the producer's trace, and the handler sees the span's context in its headers")
    func parentAndHandlerContext() async {
        let tracer = InMemoryTracer()
        let seen = Mutex([String: String]())
        let effects = EffectLog { message, _ in
            seen.withLock { seen in
                for (name, value) in message.headers { seen[name] = value.identityText }
            }
            return nil
        }
        let processor = BatchProcessor(
            consumer: ConsumerHarness.consumer(), store: InMemoryDedupStore(), handler: effects,
            logger: LogCapture().logger(), tracer: tracer)
        // A sampled W3C context (what idem samples by), and the in-memory tracer's own form
        // of the same parent (what it extracts).
        let producer: [String: HeaderValue] = [
            "traceparent": .string("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            InMemoryTracer.traceIDKey: .string("trace-7"), InMemoryTracer.spanIDKey: .string("producer-span"),
        ]
        _ = await processor.process([Self.message("a", headers: producer)])
        let span = try! #require(tracer.finishedSpans.first)
        #expect(span.traceID == "trace-7")
        #expect(span.parentSpanID == "producer-span")
        let headers = seen.withLock { $0 }
        #expect(headers[InMemoryTracer.spanIDKey] == span.spanID, "the handler continues idem's span")
        #expect(headers[InMemoryTracer.traceIDKey] == "trace-7")
    }

    @Test("without a tracer no span is started and the handler sees the headers as received")
    func untraced() async {
        let seen = Mutex([String: HeaderValue]())
        let effects = EffectLog { message, _ in
            seen.withLock { $0 = message.headers }
            return nil
        }
        let processor = BatchProcessor(
            consumer: ConsumerHarness.consumer(), store: InMemoryDedupStore(), handler: effects,
            logger: LogCapture().logger())
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        _ = await processor.process([Self.message("a", headers: ["traceparent": .string(traceparent)])])
        #expect(seen.withLock { $0 } == ["traceparent": .string(traceparent)])
    }

    @Test("a traced handler runs with its message's span as the current context, so its own spans are children")
    func tracedHandler() async throws {
        let tracer = InMemoryTracer()
        let inner = EffectLog { _, _ in
            tracer.startSpan("charge card", context: ServiceContext.current ?? .topLevel).end()
            return nil
        }
        let processor = BatchProcessor(
            consumer: ConsumerHarness.consumer(), store: InMemoryDedupStore(),
            handler: TracedHandler(handler: inner, tracer: tracer), logger: LogCapture().logger(), tracer: tracer)
        _ = await processor.process([Self.message("a")])
        let spans = tracer.finishedSpans
        let consumerSpan = try #require(spans.first { $0.operationName == "process orders" })
        let child = try #require(spans.first { $0.operationName == "charge card" })
        #expect(child.parentSpanID == consumerSpan.spanID)
        #expect(child.traceID == consumerSpan.traceID)
    }

    @Test("a Kafka record's span names its topic, partition, offset and group")
    func kafkaAttributes() async throws {
        let tracer = InMemoryTracer()
        var consumer = ConsumerHarness.consumer(identity: [.offset])
        consumer.source = .kafka(KafkaSourceConfig(brokers: "127.0.0.1:9092", topics: ["payments"], group: "billing"))
        let processor = BatchProcessor(
            consumer: consumer, store: InMemoryDedupStore(), handler: EffectLog(), logger: LogCapture().logger(),
            tracer: tracer)
        let record = Message(
            body: Array("{}".utf8),
            source: MessageSource(kind: "kafka", position: LogPosition(stream: "payments", lane: 3, offset: 41)))
        _ = await processor.process([record])
        let span = try #require(tracer.finishedSpans.first)
        #expect(span.operationName == "process payments")
        #expect(Self.attribute(span, "messaging.system") == "kafka")
        #expect(Self.attribute(span, "messaging.consumer.group.name") == "billing")
        #expect(Self.attribute(span, "messaging.destination.partition.id") == "3")
        #expect(Self.attribute(span, "messaging.kafka.offset") == 41)
    }

    @Test("a message not sampled gets no span: a new trace not sampled, or the producer's unsampled context as it is")
    func sampling() async throws {
        let tracer = InMemoryTracer()
        let seen = Mutex([String: String]())
        let effects = EffectLog { message, context in
            seen.withLock { $0[context.id.value] = message.trace?.traceparent }
            return nil
        }
        let processor = BatchProcessor(
            consumer: ConsumerHarness.consumer(), store: InMemoryDedupStore(), handler: effects,
            logger: LogCapture().logger(), tracer: tracer, sampleRatio: 0)
        let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        let sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        _ = await processor.process([
            Self.message("root-1"), Self.message("root-2"),
            Self.message("unsampled", headers: ["traceparent": .string(unsampled)]),
            Self.message("sampled", headers: ["Traceparent": .string(sampled)]),
        ])
        #expect(tracer.finishedSpans.count == 1, "only the message whose producer sampled its trace")
        let handed = seen.withLock { $0 }
        #expect(handed["unsampled"] == unsampled)
        let roots = try [#require(handed["root-1"]), #require(handed["root-2"])]
        for root in roots {
            let trace = try #require(MessageTrace(headers: ["traceparent": .string(root)]), "valid: \(root)")
            #expect(!trace.sampled)
        }
        #expect(roots[0].split(separator: "-")[1] != roots[1].split(separator: "-")[1], "each a trace of its own")

        let all = BatchProcessor(
            consumer: ConsumerHarness.consumer(), store: InMemoryDedupStore(), handler: EffectLog(),
            logger: LogCapture().logger(), tracer: tracer, sampleRatio: 1)
        tracer.clearFinishedSpans()
        _ = await all.process([Self.message("a"), Self.message("b")])
        #expect(tracer.finishedSpans.count == 2)
    }
}
