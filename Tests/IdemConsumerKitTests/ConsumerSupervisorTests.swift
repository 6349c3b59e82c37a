import IdemConfig
import IdemConsumerKit
import IdemConsumerKitTestSupport
import IdemCore
import Testing

/// A consumer run end to end by its supervisor over the in-memory broker and store: the
/// promises of docs/design.md that hold for every broker (exactly-once effects under
/// redelivery, retries, dead letters, pausing while the store is away, reconnecting),
/// checked in milliseconds and without services.
@Suite("Consumer supervisor, in memory")
struct ConsumerSupervisorTests {
    /// Waits until `condition` holds, for at most `seconds`; false if it never did.
    static func eventually(_ seconds: Int = 10, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return condition()
    }

    @Test("every message takes effect once though a fifth are published twice and a batch's acks are lost")
    func exactlyOnce() async throws {
        let effects = EffectLog()
        let harness = ConsumerHarness(handler: effects)
        for index in 0..<200 {
            harness.broker.publish("{\"n\":\(index)}", messageID: "m\(index)")
            if index % 5 == 0 { harness.broker.publish("{\"n\":\(index)}", messageID: "m\(index)") }
        }
        harness.broker.loseNextAcknowledgements()
        let task = await harness.start()
        #expect(await Self.eventually { harness.broker.unsettled == 0 })
        task.cancel()
        try? await task.value
        #expect(effects.effectCounts.count == 200)
        #expect(effects.effectCounts.values.allSatisfy { $0 == 1 })
        #expect(harness.broker.acknowledged.count == 240)
        #expect(harness.broker.redeliveries >= 20, "the lost batch came back")
        #expect(harness.broker.sessions == 2, "the lost connection was replaced by a new session")
        #expect(harness.broker.deadLetters.isEmpty)
        #expect(harness.state == .stopped)
    }

    @Test("a message failing twice is retried and takes effect once; the retries are logged")
    func retries() async throws {
        let effects = EffectLog { message, context in
            message.properties.messageId == "flaky" && context.attempt < 3 ? .retry("timeout") : nil
        }
        let harness = ConsumerHarness(consumer: ConsumerHarness.consumer(maxAttempts: 3), handler: effects)
        harness.broker.publish("{}", messageID: "flaky")
        harness.broker.publish("{}", messageID: "steady")
        let task = await harness.start()
        #expect(await Self.eventually { harness.broker.unsettled == 0 })
        task.cancel()
        #expect(effects.effectCounts == ["flaky": 1, "steady": 1])
        #expect(harness.store.row(consumer: "orders", id: "flaky")?.attempts == 3)
        #expect(harness.logs.matching("retrying in").count == 2)
        #expect(harness.broker.deadLetters.isEmpty)
    }

    @Test("a message that keeps failing is dead-lettered once, with its reason in the x-idem headers, and logged once")
    func deadLetter() async throws {
        let effects = EffectLog { message, _ in message.properties.messageId == "doomed" ? .retry("bad gateway") : nil }
        let harness = ConsumerHarness(consumer: ConsumerHarness.consumer(maxAttempts: 2), handler: effects)
        harness.broker.publish("{}", messageID: "doomed")
        for index in 0..<10 { harness.broker.publish("{}", messageID: "ok\(index)") }
        let task = await harness.start()
        #expect(await Self.eventually { harness.broker.unsettled == 0 })
        task.cancel()
        let letters = harness.broker.deadLetters
        #expect(letters.count == 1)
        #expect(letters.first?.message.properties.messageId == "doomed")
        #expect(letters.first?.header(DeadLetterHeaders.reason) == .string("attempts-exhausted"))
        #expect(letters.first?.header(DeadLetterHeaders.consumer) == .string("orders"))
        #expect(letters.first?.header(DeadLetterHeaders.attempts) == .int(2))
        #expect(harness.logs.matching("dead-lettered to memory-dlq", atLeast: .warning).count == 1)
        #expect(effects.effects.count == 10 && !effects.effects.contains("doomed"))
    }

    @Test("a redelivery of a message whose dead letter was confirmed is acknowledged, not dead-lettered again")
    func deadLetterOnce() async throws {
        let effects = EffectLog { message, _ in message.properties.messageId == "bad" ? .reject("unknown SKU") : nil }
        let harness = ConsumerHarness(handler: effects)
        harness.broker.publish("{}", messageID: "bad")
        let task = await harness.start()
        #expect(await Self.eventually { harness.broker.deadLetters.count == 1 })
        #expect(await Self.eventually { harness.store.row(consumer: "orders", id: "bad")?.deadLetterConfirmed == true })
        harness.broker.publish("{}", messageID: "bad")
        harness.broker.publish("{}", messageID: "good")
        #expect(await Self.eventually { harness.broker.unsettled == 0 })
        task.cancel()
        #expect(harness.broker.deadLetters.count == 1, "the dead letters hold the message once")
        #expect(harness.broker.acknowledged.map { $0.properties.messageId } == ["bad", "good"])
        #expect(effects.calls == 2, "the redelivery is not handled again")
    }

    @Test("while the store is away the consumer pauses, settles nothing and loses nothing; then it resumes")
    func storeOutage() async throws {
        let effects = EffectLog()
        let harness = ConsumerHarness(handler: effects)
        harness.store.fail()
        for index in 0..<30 { harness.broker.publish("{}", messageID: "o\(index)") }
        let task = await harness.start()
        #expect(await Self.eventually { harness.state == .paused("PostgreSQL unavailable") })
        #expect(harness.broker.acknowledged.isEmpty && harness.broker.deadLetters.isEmpty)
        #expect(harness.broker.unsettled == 30)
        #expect(effects.calls == 0)
        harness.store.recover()
        #expect(await Self.eventually { harness.broker.unsettled == 0 })
        #expect(await Self.eventually { harness.state == .consuming })
        task.cancel()
        #expect(effects.effectCounts.count == 30 && effects.effectCounts.values.allSatisfy { $0 == 1 })
        #expect(harness.logs.matching("PostgreSQL is back").count == 1)
    }

    @Test("refused connections are retried with backoff until one connects, reported on /readyz meanwhile")
    func reconnects() async throws {
        let harness = ConsumerHarness()
        harness.broker.refuseConnections(3)
        harness.broker.publish("{}", messageID: "r")
        let task = await harness.start()
        #expect(await Self.eventually { harness.broker.unsettled == 0 })
        #expect(harness.state == .consuming)
        task.cancel()
        #expect(harness.broker.sessions == 4)
        #expect(harness.logs.matching("in-memory broker session ended, reconnecting in", atLeast: .warning).count == 3)
    }

    @Test("a session the adapter cannot make ends the supervisor with that error instead of retrying")
    func settingsThatCannotWork() async throws {
        let harness = ConsumerHarness()
        harness.broker.breakSettings("queue name is empty")
        let task = await harness.start()
        await #expect(throws: InMemoryBroker.SettingsError.self) { try await task.value }
        #expect(harness.broker.sessions == 0)
        #expect(harness.state == .stopped)
        #expect(harness.logs.matching("cannot start: queue name is empty", atLeast: .error).count == 1)
    }

    @Test("on an ordered lane, a retry holds the messages behind it back: the effects keep the publish order")
    func orderedLane() async throws {
        let effects = EffectLog { message, context in
            message.properties.messageId == "3" && context.attempt < 3 ? .retry("wait") : nil
        }
        let harness = ConsumerHarness(broker: InMemoryBroker(kind: "amqp", ordered: true), handler: effects)
        for index in 0..<10 { harness.broker.publish("{}", messageID: "\(index)") }
        let task = await harness.start()
        #expect(await Self.eventually { harness.broker.unsettled == 0 })
        task.cancel()
        #expect(effects.effects == (0..<10).map { "\($0)" })
    }

    @Test("a dead letter is listed by the adapter's channel with its metadata, and can be put back and removed")
    func deadLetterChannel() async throws {
        let harness = ConsumerHarness(handler: EffectLog { _, _ in .reject("unknown customer") })
        harness.broker.publish("{\"c\":7}", messageID: "dl")
        let task = await harness.start()
        #expect(await Self.eventually { harness.broker.deadLetters.count == 1 })
        task.cancel()
        let channel = try await harness.broker.openDeadLetterChannel(
            for: harness.consumer, logger: harness.context.logger)
        #expect(channel.count == 1)
        let letter = try #require(try await channel.next())
        #expect(letter.metadata.consumer == "orders")
        #expect(letter.metadata.reason == "rejected")
        #expect(letter.body == Array("{\"c\":7}".utf8))
        #expect(try await channel.next() == nil)
        _ = try await channel.republish(letter, replayID: 42)
        try await channel.remove(letter)
        #expect(channel.count == 0)
        #expect(harness.broker.unsettled == 1, "the replayed copy waits in the queue")
    }
}
