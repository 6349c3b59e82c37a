import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import Testing

@Suite("Dedup store: leases and fencing")
struct LeaseTests {
    @Test func expiryAllowsTakeoverWithANewFenceAndRefusesTheStaleHolder() async throws {
        let fixture = try await StoreFixture.make()
        let store = fixture.store
        let request = StoreFixture.request("job-1")
        let first = try await store.claimLeases(consumer: fixture.consumer, [request], lease: .seconds(1))
        #expect(first == [.claimed(attempt: 1, fence: 1)])

        // A live lease makes the duplicate "held", not "new".
        let held = try await store.claimLeases(consumer: fixture.consumer, [request], lease: .seconds(1))
        guard case .held(let remaining) = held[0] else {
            Issue.record("expected held, got \(held[0])")
            return
        }
        #expect(remaining > .zero && remaining <= .seconds(1))

        try await Task.sleep(for: .milliseconds(1300))
        let takeover = try await store.claimLeases(consumer: fixture.consumer, [request], lease: .seconds(30))
        #expect(takeover == [.claimed(attempt: 2, fence: 2)])

        // The zombie (fence 1) cannot complete or fail the row; the new holder can.
        #expect(try await store.complete(consumer: fixture.consumer, id: request.id, fence: 1) == false)
        #expect(
            try await store.recordFailure(
                consumer: fixture.consumer, id: request.id, fence: 1, lastError: "late", final: true) == false)
        #expect(try await store.complete(consumer: fixture.consumer, id: request.id, fence: 2) == true)
        #expect(try await fixture.row("job-1")?.status == "done")

        let after = try await store.claimLeases(consumer: fixture.consumer, [request], lease: .seconds(30))
        #expect(after == [.duplicate])
        try await fixture.drop()
    }

    @Test func aFailedLeaseIsClaimedAgainWithItsAttemptsCounted() async throws {
        let fixture = try await StoreFixture.make()
        let store = fixture.store
        let request = StoreFixture.request("job-2")
        #expect(
            try await store.claimLeases(consumer: fixture.consumer, [request], lease: .seconds(30)) == [
                .claimed(attempt: 1, fence: 1)
            ])
        #expect(
            try await store.recordFailure(
                consumer: fixture.consumer, id: request.id, fence: 1, lastError: "503", final: false))
        #expect(
            try await store.claimLeases(consumer: fixture.consumer, [request], lease: .seconds(30)) == [
                .claimed(attempt: 2, fence: 2)
            ])
        #expect(
            try await store.recordFailure(
                consumer: fixture.consumer, id: request.id, fence: 2, lastError: "gone", final: true))
        #expect(
            try await store.claimLeases(consumer: fixture.consumer, [request], lease: .seconds(30))
                == [.deadLettered(attempts: 2, lastError: "gone")])
        try await fixture.drop()
    }

    @Test func payloadConflictIsReported() async throws {
        let fixture = try await StoreFixture.make()
        let store = fixture.store
        let done = try await store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("p-1", #"{"amount":1}"#)], maxAttempts: 3,
            handler: ClosureHandler { _, _ in .success })
        #expect(done == [.handled(.success, attempt: 1)])
        let same = try await store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("p-1", #"{"amount":1}"#)], maxAttempts: 3,
            handler: ClosureHandler { _, _ in .success })
        #expect(same == [.notClaimed(.duplicate)])
        let different = try await store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("p-1", #"{"amount":2}"#)], maxAttempts: 3,
            handler: ClosureHandler { _, _ in .success })
        #expect(
            different == [
                .notClaimed(.payloadConflict(storedHash: IdentityChain.sha256Hex(Array(#"{"amount":1}"#.utf8))))
            ])
        let leased = try await store.claimLeases(
            consumer: fixture.consumer, [StoreFixture.request("p-1", "other")], lease: .seconds(5))
        guard case .payloadConflict = leased[0] else {
            Issue.record("expected a payload conflict in lease mode too, got \(leased[0])")
            return
        }
        try await fixture.drop()
    }
}
