import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import Testing

@Suite("Retention")
struct RetentionTests {
    @Test func deletesExactlyTheExpiredFinishedRowsInBatches() async throws {
        let fixture = try await StoreFixture.make()
        let requests = (0..<25).map { StoreFixture.request("r-\($0)") }
        _ = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, requests, maxAttempts: 3, handler: ClosureHandler { _, _ in .success })
        _ = try await fixture.store.claimLeases(
            consumer: fixture.consumer, [StoreFixture.request("leased")], lease: .seconds(60))
        // 20 old finished rows, 5 recent ones, and an old row still being processed.
        _ = try await fixture.admin.query(
            "UPDATE \(fixture.table.quoted) SET updated_at = now() - interval '2 days' WHERE message_id NOT IN ('r-20','r-21','r-22','r-23','r-24')"
        )
        let deleted = try await fixture.store.deleteExpired(
            consumer: fixture.consumer, olderThan: .seconds(86400), batchSize: 7)
        #expect(deleted == 20)
        let left = try await fixture.admin.query(
            "SELECT message_id FROM \(fixture.table.quoted) ORDER BY message_id"
        ).rows.map { $0[0]! }
        #expect(left == ["leased", "r-20", "r-21", "r-22", "r-23", "r-24"])
        try await fixture.drop()
    }
}
