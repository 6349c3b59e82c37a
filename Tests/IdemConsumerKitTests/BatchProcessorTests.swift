import IdemConfig
import IdemConsumerKit
import IdemConsumerKitTestSupport
import IdemCore
import IdemLogCapture
import Testing

/// The batch processor's decisions over the in-memory dedup store: the outcome table of
/// docs/design.md for every broker, without services.
@Suite("Batch processor, in memory")
struct BatchProcessorTests {
    static func processor(
        _ consumer: ConsumerConfig = ConsumerHarness.consumer(), store: InMemoryDedupStore = InMemoryDedupStore(),
        handler: any MessageHandler, handlerConcurrency: Int = 4
    ) -> BatchProcessor {
        BatchProcessor(
            consumer: consumer, store: store, handler: handler, logger: LogCapture().logger(),
            handlerConcurrency: handlerConcurrency)
    }

    static func message(_ id: String?, _ body: String = "{}", offset: Int64? = nil) -> Message {
        let source =
            offset.map { MessageSource(kind: "amqp", position: LogPosition(stream: "s", lane: 0, offset: $0)) }
            ?? MessageSource(kind: "amqp", description: "memory", features: .messageIDProperty)
        return Message(body: Array(body.utf8), properties: MessageProperties(messageId: id), source: source)
    }

    @Test("each ID takes effect once across copies in a batch and later batches; the copies are acknowledged")
    func duplicates() async {
        let effects = EffectLog()
        let processor = Self.processor(handler: effects)
        let first = await processor.process(["a", "b", "a", "c"].map { Self.message($0) })
        #expect(
            first.map(\.disposition) == [
                .acknowledge(.processed), .acknowledge(.processed), .acknowledge(.duplicate), .acknowledge(.processed),
            ])
        let second = await processor.process(["c", "d"].map { Self.message($0) })
        #expect(second.map(\.disposition) == [.acknowledge(.duplicate), .acknowledge(.processed)])
        #expect(effects.effectCounts == ["a": 1, "b": 1, "c": 1, "d": 1])
    }

    @Test("a message without an ID or over the body limit is dead-lettered as poison without calling the handler")
    func poison() async {
        let effects = EffectLog()
        let store = InMemoryDedupStore()
        let processor = Self.processor(ConsumerHarness.consumer(maxBodyBytes: 8), store: store, handler: effects)
        let decisions = await processor.process([
            Self.message(nil), Self.message("big", "0123456789"), Self.message("ok"),
        ])
        guard case .deadLetter(.poison(.noIdentity)) = decisions[0].disposition else {
            Issue.record("not dead-lettered for a missing ID: \(decisions[0].disposition)")
            return
        }
        #expect(decisions[1].disposition == .deadLetter(.poison(.bodyTooLarge(size: 10, limit: 8))))
        #expect(decisions[2].disposition == .acknowledge(.processed))
        #expect(effects.calls == 1)
        #expect(store.rows(consumer: "orders").keys.sorted() == ["ok"])
    }

    @Test(
        "a transient failure is retried with a counted attempt until the last, then dead-lettered; a redelivery finds it dead"
    )
    func attemptsExhausted() async {
        let effects = EffectLog { _, _ in .retry("downstream 503") }
        let store = InMemoryDedupStore()
        let processor = Self.processor(ConsumerHarness.consumer(maxAttempts: 3), store: store, handler: effects)
        var dispositions: [Disposition] = []
        for _ in 0..<3 { dispositions += await processor.process([Self.message("x")]).map(\.disposition) }
        guard case .retry(_, true, "downstream 503") = dispositions[0], case .retry(_, true, _) = dispositions[1] else {
            Issue.record("first two attempts were not retries: \(dispositions)")
            return
        }
        #expect(dispositions[2] == .deadLetter(.attemptsExhausted(attempts: 3, lastError: "downstream 503")))
        #expect(store.row(consumer: "orders", id: "x")?.status == .dead)
        let again = await processor.process([Self.message("x")])
        #expect(again[0].disposition == .deadLetter(.deadLetteredBefore(attempts: 3, lastError: "downstream 503")))
        #expect(effects.calls == 3, "a dead row is not handled again")
        #expect(effects.effects.isEmpty)
    }

    @Test("a rejected message is dead-lettered at once with its reason and no effect")
    func reject() async {
        let effects = EffectLog { message, _ in message.properties.messageId == "bad" ? .reject("no such order") : nil }
        let decisions = await Self.processor(handler: effects).process([Self.message("bad"), Self.message("good")])
        #expect(decisions[0].disposition == .deadLetter(.rejected("no such order", attempt: 1)))
        #expect(decisions[1].disposition == .acknowledge(.processed))
        #expect(effects.effects == ["good"])
    }

    @Test("the same ID with another body is a payload conflict: dead-lettered, or acknowledged when configured")
    func payloadConflict() async {
        for action in [PayloadConflictAction.deadLetter, .acknowledge] {
            let effects = EffectLog()
            let processor = Self.processor(ConsumerHarness.consumer(onPayloadConflict: action), handler: effects)
            _ = await processor.process([Self.message("p", "{\"v\":1}")])
            let decision = await processor.process([Self.message("p", "{\"v\":2}")])[0]
            if action == .deadLetter {
                guard case .deadLetter(.payloadConflict) = decision.disposition else {
                    Issue.record("not dead-lettered: \(decision.disposition)")
                    continue
                }
            } else {
                #expect(decision.disposition == .acknowledge(.payloadConflictAccepted))
            }
            #expect(effects.effects == ["p"])
        }
    }

    @Test("keeping order, a transient failure defers the messages after it: no effect, no attempt used")
    func keepOrder() async {
        let failing = EffectLog { message, context in
            message.properties.messageId == "2" && context.attempt == 1 ? .retry("not yet") : nil
        }
        let store = InMemoryDedupStore()
        let processor = Self.processor(store: store, handler: failing)
        let decisions = await processor.process((1...4).map { Self.message("\($0)") }, keepOrder: true)
        #expect(decisions[0].disposition == .acknowledge(.processed))
        guard case .retry(_, true, _) = decisions[1].disposition, case .retry(_, false, _) = decisions[2].disposition,
            case .retry(_, false, _) = decisions[3].disposition
        else {
            Issue.record("not retried behind the failure: \(decisions.map(\.disposition))")
            return
        }
        #expect(failing.effects == ["1"])
        #expect(store.row(consumer: "orders", id: "3") == nil, "a deferred message leaves no row")
        let again = await processor.process((2...4).map { Self.message("\($0)") }, keepOrder: true)
        #expect(again.allSatisfy { $0.disposition == .acknowledge(.processed) })
        #expect(failing.effects == ["1", "2", "3", "4"])
        #expect(store.row(consumer: "orders", id: "2")?.attempts == 2)
    }

    @Test("when the store does not answer, every message is suspended and none is handled")
    func storeUnavailable() async {
        let effects = EffectLog()
        let store = InMemoryDedupStore()
        store.fail()
        let decisions = await Self.processor(store: store, handler: effects).process([
            Self.message("a"), Self.message(nil),
        ])
        #expect(decisions[0].disposition == .suspend)
        #expect(effects.calls == 0)
    }

    @Test("lease mode runs at most the handler concurrency at once, each ID once, the rows done")
    func leaseConcurrency() async {
        let effects = EffectLog(delay: .milliseconds(5))
        let store = InMemoryDedupStore()
        let processor = Self.processor(
            ConsumerHarness.consumer(mode: .lease), store: store, handler: effects, handlerConcurrency: 3)
        let batch = (0..<12).map { Self.message("l\($0)") } + [Self.message("l0")]
        let decisions = await processor.process(batch)
        #expect(decisions.prefix(12).allSatisfy { $0.disposition == .acknowledge(.processed) })
        #expect(decisions[12].disposition == .acknowledge(.duplicate))
        #expect(effects.mostAtOnce <= 3 && effects.mostAtOnce >= 2)
        #expect(effects.effectCounts.values.allSatisfy { $0 == 1 } && effects.effects.count == 12)
        #expect(store.rows(consumer: "orders").values.allSatisfy { $0.status == .done && $0.lockedUntil == nil })
    }

    @Test("lease mode: a message under another worker's live lease is retried later, not handled")
    func liveLease() async throws {
        let store = InMemoryDedupStore()
        let request = ClaimRequest(message: Self.message("held"), id: MessageID("held", source: .messageId))
        _ = try await store.claimLeases(consumer: "orders", [request], lease: .seconds(60))
        let effects = EffectLog()
        let decision = await Self.processor(ConsumerHarness.consumer(mode: .lease), store: store, handler: effects)
            .process([Self.message("held")])[0]
        guard case .retry(_, false, _) = decision.disposition else {
            Issue.record("not retried: \(decision.disposition)")
            return
        }
        #expect(effects.calls == 0)
    }

    @Test("offset mode: records below the lane's stored offset are duplicates; a failure stores its offset")
    func offsets() async {
        let effects = EffectLog { message, context in
            message.source.position?.offset == 3 && context.attempt == 1 ? .retry("later") : nil
        }
        let store = InMemoryDedupStore()
        let processor = Self.processor(ConsumerHarness.consumer(identity: [.offset]), store: store, handler: effects)
        #expect(processor.offsetMode)
        let first = await processor.process((0..<5).map { Self.message(nil, offset: $0) })
        #expect(first.prefix(3).allSatisfy { $0.disposition == .acknowledge(.processed) })
        #expect(store.lane(consumer: "orders", stream: "s", lane: 0)?.next == 3)
        let second = await processor.process((0..<5).map { Self.message(nil, offset: $0) })
        #expect(second.prefix(3).allSatisfy { $0.disposition == .acknowledge(.duplicate) })
        #expect(second.suffix(2).allSatisfy { $0.disposition == .acknowledge(.processed) })
        #expect(effects.effects == (0..<5).map { "s:0:\($0)" }, "each record once, in offset order")
        #expect(store.lane(consumer: "orders", stream: "s", lane: 0)?.next == 5)
    }
}
