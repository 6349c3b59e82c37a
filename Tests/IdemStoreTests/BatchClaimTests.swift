import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import Testing

@Suite("Dedup store: batch claims")
struct BatchClaimTests {
    @Test func aThousandIDsHalfPresentSomeLeasedInOneRoundTrip() async throws {
        let fixture = try await StoreFixture.make(poolSize: 1)
        let store = fixture.store
        let all = (0..<1000).map { StoreFixture.request(String(format: "id-%04d", $0)) }
        // 0..<250 done, 250..<500 under a live lease, 500..<1000 new.
        let present = Array(all[0..<500])
        let claimed = try await store.claimLeases(consumer: fixture.consumer, present, lease: .seconds(60))
        #expect(claimed.allSatisfy { $0 == .claimed(attempt: 1, fence: 1) })
        for request in all[0..<250] {
            #expect(try await store.complete(consumer: fixture.consumer, id: request.id, fence: 1))
        }

        let shuffled = all.shuffled()
        let before = try await fixture.pool.withConnection { connection in await connection.roundTrips }
        let statementsBefore = try await claimCalls(fixture)
        let results = try await store.claimLeases(consumer: fixture.consumer, shuffled, lease: .seconds(60))
        let after = try await fixture.pool.withConnection { connection in await connection.roundTrips }
        #expect(after - before == 1, "the batch claim took \(after - before) round trips")
        #expect(try await claimCalls(fixture) - statementsBefore == 1)

        // Exactly the new IDs are claimed; the done ones are duplicates, the leased ones held.
        #expect(results.count == 1000)
        for (request, result) in zip(shuffled, results) {
            let number = Int(request.id.value.dropFirst(3))!
            switch number {
            case 0..<250: #expect(result == .duplicate, "\(request.id)")
            case 250..<500:
                guard case .held = result else {
                    Issue.record("\(request.id): expected held, got \(result)")
                    continue
                }
            default: #expect(result == .claimed(attempt: 1, fence: 1), "\(request.id)")
            }
        }
        try await fixture.drop()
    }

    /// Calls of the claim statement on this table, from pg_stat_statements.
    private func claimCalls(_ fixture: StoreFixture) async throws -> Int {
        try await fixture.count(
            "SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements WHERE query LIKE $1",
            ["INSERT INTO \(fixture.table.quoted) AS p%"])
    }
}
