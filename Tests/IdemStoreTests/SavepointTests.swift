import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import Testing

/// Swift handlers write through the open transaction; a failing message's writes are
/// rolled back to its savepoint while the rest of the batch commits.
@Suite("Dedup store: Swift handlers in a transaction")
struct SavepointTests {
    @Test func aFailingMessageLosesOnlyItsOwnWrites() async throws {
        let fixture = try await StoreFixture.make()
        let effects = fixture.scratch("effects")
        _ = try await fixture.admin.query("CREATE TABLE \(effects) (id text)", prepared: false)
        let handler = ClosureHandler { message, context in
            let transaction = try #require(context.transaction)
            _ = try await transaction.execute("INSERT INTO \(effects)(id) VALUES ($1)", [context.id.value])
            switch String(decoding: message.body, as: UTF8.self) {
            case "retry": return .retry("try later")
            case "reject": return .reject("never")
            case "throw": throw CocoaLikeError()
            default: return .success
            }
        }
        let outcomes = try await fixture.store.processTransactionally(
            consumer: fixture.consumer,
            [
                StoreFixture.request("a", "ok"), StoreFixture.request("b", "retry"),
                StoreFixture.request("c", "reject"),
                StoreFixture.request("d", "throw"), StoreFixture.request("e", "ok"),
            ], maxAttempts: 3, handler: handler)
        #expect(
            outcomes == [
                .handled(.success, attempt: 1), .handled(.retry("try later"), attempt: 1),
                .handled(.reject("never"), attempt: 1), .handled(.retry("CocoaLikeError()"), attempt: 1),
                .handled(.success, attempt: 1),
            ])
        let written = try await fixture.admin.query("SELECT id FROM \(effects) ORDER BY id").rows.map { $0[0]! }
        #expect(written == ["a", "e"])
        #expect(try await fixture.row("b")?.status == "failed")
        #expect(try await fixture.row("c")?.status == "dead")
        #expect(try await fixture.row("d")?.lastError == "CocoaLikeError()")
        try await fixture.drop(effects)
    }

    @Test func anUnreachableDatabaseIsReportedUnavailable() async throws {
        let pool = PostgresPool(
            url: "postgres://idem:secret@127.0.0.1:1/idem", size: 1, connectTimeout: .seconds(1),
            logger: StoreFixture.makeLogger())
        let store = PostgresDedupStore(
            pool: pool, table: DedupTableName("processed_messages"), logger: StoreFixture.makeLogger())
        do {
            _ = try await store.processTransactionally(
                consumer: "orders", [StoreFixture.request("x")], maxAttempts: 3,
                handler: ClosureHandler { _, _ in .success })
            Issue.record("the store answered without a database")
        } catch {
            guard error.code == .unavailable else {
                Issue.record("expected unavailable, got \(error)")
                return
            }
            let detail = error.detail
            #expect(detail.contains("127.0.0.1:1"))
            #expect(!detail.contains("secret"))
        }
        await pool.close()
    }
}
