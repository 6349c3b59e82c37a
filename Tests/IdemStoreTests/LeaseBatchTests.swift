import Foundation
import IdemConfig
import IdemCore
import IdemPostgres
import MetricsTestKit
import Testing

@testable import IdemConsumerKit

/// Lease mode through the batch processor, as the consumers run it: claims, the handler
/// outside any transaction with the ID and fence, and every claim ended in one round trip.
@Suite("Lease mode batches")
struct LeaseBatchTests {
    static func processor(
        _ fixture: StoreFixture, handler: any MessageHandler, maxAttempts: Int = 2, metrics: ConsumerMetrics? = nil
    ) -> BatchProcessor {
        let consumer = ConsumerConfig(
            name: fixture.consumer, source: .amqp(AMQPSourceConfig(url: "amqp://localhost", queue: "orders")),
            identity: IdentityChain([.header("id")]), handler: HandlerConfig(kind: .swift(name: "test")),
            dedup: DedupSettings(mode: .lease),
            retry: RetryPolicy(
                maxAttempts: maxAttempts, initialBackoff: .milliseconds(10), multiplier: 2, maxBackoff: .seconds(1),
                jitter: 0))
        return BatchProcessor(
            consumer: consumer, store: fixture.store, handler: handler, logger: fixture.logger, handlerConcurrency: 8,
            metrics: metrics)
    }

    static func message(_ id: String) -> Message {
        StoreFixture.message("{}", headers: ["id": .string(id)])
    }

    @Test func eachIDIsHandledOnceWithItsFenceAndTheRowsEndDone() async throws {
        let fixture = try await StoreFixture.make()
        let calls = Calls()
        let handler = ClosureHandler { _, context in
            await calls.add(context.id.value, fence: context.fence)
            #expect(context.transaction == nil, "lease mode runs outside the transaction")
            return .success
        }
        let processor = Self.processor(fixture, handler: handler)
        let batch = (1...40).map { Self.message("l\($0)") } + (1...40).map { Self.message("l\($0)") }
        let first = await processor.process(batch)
        #expect(first.prefix(40).allSatisfy { $0.event == .handled(.success, attempt: 1) })
        // The second copies in the same batch are duplicates of the first ones.
        #expect(first.suffix(40).allSatisfy { $0.event == .duplicate })
        let again = await processor.process(batch)
        #expect(again.allSatisfy { $0.event == .duplicate })
        #expect(await calls.ids.count == 40)
        #expect(Set(await calls.ids).count == 40)
        #expect(await calls.fences.allSatisfy { $0 == 1 })
        #expect(try await fixture.row("l7")?.status == "done")
        try await fixture.drop()
    }

    @Test func failuresAreCountedAcrossBatchesAndTheLastOneIsDead() async throws {
        let fixture = try await StoreFixture.make()
        let handler = ClosureHandler { _, context in
            switch context.id.value {
            case "flaky": return .retry("busy")
            case "bad": return .reject("malformed")
            default: throw CancellationError()
            }
        }
        let processor = Self.processor(fixture, handler: handler, maxAttempts: 2)
        let batch = ["flaky", "bad", "throws"].map(Self.message)
        let first = await processor.process(batch)
        #expect(first[0].event == .handled(.retry("busy"), attempt: 1))
        #expect(first[1].event == .handled(.reject("malformed"), attempt: 1))
        guard case .deadLetter = first[1].disposition else {
            Issue.record("a reject is dead-lettered, got \(first[1].disposition)")
            return
        }
        guard case .handled(.retry, attempt: 1) = first[2].event else {
            Issue.record("a thrown error is a transient failure, got \(first[2].event)")
            return
        }
        #expect(try await fixture.row("flaky")?.status == "failed")
        #expect(try await fixture.row("flaky")?.lastError == "busy")
        #expect(try await fixture.row("bad")?.status == "dead")
        let second = await processor.process([Self.message("flaky")])
        #expect(second[0].event == .handled(.retry("busy"), attempt: 2))
        guard case .deadLetter = second[0].disposition else {
            Issue.record("the last attempt is dead-lettered, got \(second[0].disposition)")
            return
        }
        #expect(try await fixture.row("flaky")?.status == "dead")
        try await fixture.drop()
    }

    @Test func keepingOrderReleasesTheClaimsAfterATransientFailureWithoutCountingThem() async throws {
        let fixture = try await StoreFixture.make()
        let calls = Calls()
        let failing = Failing()
        let handler = ClosureHandler { _, context in
            await calls.add(context.id.value, fence: context.fence)
            return await failing.shouldFail(context.id.value) ? .retry("not yet") : .success
        }
        let processor = Self.processor(fixture, handler: handler, maxAttempts: 3)
        let batch = (1...5).map { Self.message("k\($0)") }
        let first = await processor.process(batch, keepOrder: true)
        #expect(first[0].event == .handled(.success, attempt: 1))
        #expect(first[1].event == .handled(.success, attempt: 1))
        #expect(first[2].event == .handled(.retry("not yet"), attempt: 1))
        #expect(first[3...].allSatisfy { $0.event == .deferred })
        #expect(await calls.ids == ["k1", "k2", "k3"], "in order, and nothing after the failure")
        #expect(try await fixture.row("k4")?.status == "failed")
        #expect(try await fixture.row("k4")?.attempts == 0, "a released claim's attempt is not counted")
        await failing.heal()
        let second = await processor.process(Array(batch[2...]), keepOrder: true)
        #expect(second[0].event == .handled(.success, attempt: 2))
        #expect(second[1].event == .handled(.success, attempt: 1))
        #expect(second[2].event == .handled(.success, attempt: 1))
        #expect(await calls.ids == ["k1", "k2", "k3", "k3", "k4", "k5"])
        try await fixture.drop()
    }

    @Test func aTakenOverLeaseIsNotCompletedByTheZombie() async throws {
        let fixture = try await StoreFixture.make()
        let handler = ClosureHandler { _, context in
            // While this worker handles the message, another takes the row over.
            _ = try await fixture.admin.query(
                "UPDATE \(fixture.table.quoted) SET fence = fence + 1 WHERE message_id = $1", [context.id.value])
            return .success
        }
        let testMetrics = TestMetrics()
        let metrics = ConsumerMetrics(consumer: fixture.consumer, factory: testMetrics)
        let outcome = await Self.processor(fixture, handler: handler, metrics: metrics).process([Self.message("z1")])
        guard case .heldByLiveLease = outcome[0].event else {
            Issue.record("a refused completion is a live lease, got \(outcome[0].event)")
            return
        }
        #expect(try await fixture.row("z1")?.status == "processing", "the new owner's claim stands")
        let dimensions = [("consumer", fixture.consumer)]
        #expect(testMetrics.counterTotal(label: "idem_stale_fence_refused_total", dimensions: dimensions) == 1)
        #expect(testMetrics.counterTotal(label: "idem_messages_processed_total", dimensions: dimensions) == 0)
        #expect(testMetrics.counterTotal(label: "idem_messages_deferred_total", dimensions: dimensions) == 1)
        try await fixture.drop()
    }
}

private actor Calls {
    var ids: [String] = []
    var fences: [Int64] = []
    func add(_ id: String, fence: Int64) {
        ids.append(id)
        fences.append(fence)
    }
}

private actor Failing {
    var healed = false
    func heal() { healed = true }
    func shouldFail(_ id: String) -> Bool { !healed && id == "k3" }
}
