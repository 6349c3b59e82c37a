import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import Testing

@Suite("Dedup store: concurrent claimers")
struct ConcurrencyTests {
    @Test func thirtyTwoTransactionalClaimersOneWinner() async throws {
        let fixture = try await StoreFixture.make()
        let effects = fixture.scratch("effects")
        _ = try await fixture.admin.query("CREATE TABLE \(effects) (id text)", prepared: false)
        let handler = SQLHandler(sql: "INSERT INTO \(effects)(id) VALUES ($1)", parameters: [.id])
        let workers = (0..<32).map { _ in fixture.separateStore() }
        let outcomes = try await withThrowingTaskGroup(of: TransactionalOutcome.self) { group in
            for (store, _) in workers {
                group.addTask {
                    try await store.processTransactionally(
                        consumer: fixture.consumer, [StoreFixture.request("same-id")], maxAttempts: 5, handler: handler
                    )[0]
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (_, pool) in workers { await pool.close() }
        #expect(outcomes.filter { $0 == .handled(.success, attempt: 1) }.count == 1)
        #expect(outcomes.filter { $0 == .notClaimed(.duplicate) }.count == 31)
        #expect(try await fixture.count("SELECT count(*) FROM \(effects)") == 1)
        try await fixture.drop(effects)
    }

    @Test func thirtyTwoLeaseClaimersOneWinner() async throws {
        let fixture = try await StoreFixture.make()
        let workers = (0..<32).map { _ in fixture.separateStore() }
        let results = try await withThrowingTaskGroup(of: ClaimResult.self) { group in
            for (store, _) in workers {
                group.addTask {
                    try await store.claimLeases(
                        consumer: fixture.consumer, [StoreFixture.request("same-id")], lease: .seconds(30))[0]
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (_, pool) in workers { await pool.close() }
        #expect(results.filter { $0 == .claimed(attempt: 1, fence: 1) }.count == 1)
        #expect(
            results.filter {
                if case .held = $0 { return true }
                return false
            }.count == 31)
        try await fixture.drop()
    }

    @Test func aBatchHoldingAnIDTwiceClaimsItOnce() async throws {
        let fixture = try await StoreFixture.make()
        let outcomes = try await fixture.store.processTransactionally(
            consumer: fixture.consumer,
            [StoreFixture.request("a", "1"), StoreFixture.request("a", "1"), StoreFixture.request("a", "2")],
            maxAttempts: 3, handler: ClosureHandler { _, _ in .success })
        #expect(outcomes[0] == .handled(.success, attempt: 1))
        #expect(outcomes[1] == .notClaimed(.duplicate))
        guard case .notClaimed(.payloadConflict) = outcomes[2] else {
            Issue.record("expected a payload conflict, got \(outcomes[2])")
            return
        }
        try await fixture.drop()
    }
}
