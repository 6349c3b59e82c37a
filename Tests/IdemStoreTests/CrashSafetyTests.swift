import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import Testing

/// What a worker crash does to a transactional claim, simulated by terminating the
/// backend of the claim's transaction.
@Suite("Dedup store: crash safety")
struct CrashSafetyTests {
    @Test func terminatedBeforeCommitLeavesNothing() async throws {
        let fixture = try await StoreFixture.make()
        let effects = fixture.scratch("effects")
        _ = try await fixture.admin.query("CREATE TABLE \(effects) (id text)", prepared: false)
        let admin = fixture.admin
        // The handler writes its effect, then its backend is terminated before COMMIT.
        let crashing = ClosureHandler { _, context in
            let transaction = try #require(context.transaction)
            _ = try await transaction.execute("INSERT INTO \(effects)(id) VALUES ($1)", [context.id.value])
            let pid = try await transaction.execute("SELECT pg_backend_pid()", []).rows[0][0]!
            _ = try await admin.query("SELECT pg_terminate_backend($1::int)", [pid])
            _ = try await transaction.execute("SELECT 1", [])
            return .success
        }
        await #expect(throws: DedupStoreError.self) {
            _ = try await fixture.store.processTransactionally(
                consumer: fixture.consumer, [StoreFixture.request("m-1")], maxAttempts: 5, handler: crashing)
        }
        #expect(try await fixture.row("m-1") == nil)
        #expect(try await fixture.count("SELECT count(*) FROM \(effects)") == 0)

        // The redelivery is processed afresh, once.
        let handler = SQLHandler(sql: "INSERT INTO \(effects)(id) VALUES ($1)", parameters: [.id])
        let again = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("m-1")], maxAttempts: 5, handler: handler)
        #expect(again == [.handled(.success, attempt: 1)])
        #expect(try await fixture.count("SELECT count(*) FROM \(effects)") == 1)
        try await fixture.drop(effects)
    }

    @Test func terminatedAfterCommitMakesTheRedeliveryADuplicate() async throws {
        let fixture = try await StoreFixture.make(poolSize: 1)
        let effects = fixture.scratch("effects")
        _ = try await fixture.admin.query("CREATE TABLE \(effects) (id text)", prepared: false)
        let handler = SQLHandler(sql: "INSERT INTO \(effects)(id) VALUES ($1)", parameters: [.id])
        let first = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("m-2")], maxAttempts: 5, handler: handler)
        #expect(first == [.handled(.success, attempt: 1)])
        // The worker dies after COMMIT, before its ack: terminate every backend of the pool.
        let killed = try await fixture.count(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = $1",
            [fixture.applicationName])
        #expect(killed == 1)
        let redelivery = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("m-2")], maxAttempts: 5, handler: handler)
        #expect(redelivery == [.notClaimed(.duplicate)])
        #expect(try await fixture.count("SELECT count(*) FROM \(effects)") == 1)
        try await fixture.drop(effects)
    }

    @Test func failedAttemptsAreCountedAcrossRedeliveries() async throws {
        let fixture = try await StoreFixture.make()
        let counter = Counter()
        let failing = ClosureHandler { _, context in
            let n = await counter.next()
            #expect(context.attempt == n)
            return .retry("boom \(n)")
        }
        for n in 1...3 {
            let outcome = try await fixture.store.processTransactionally(
                consumer: fixture.consumer, [StoreFixture.request("m-3")], maxAttempts: 5, handler: failing)
            #expect(outcome == [.handled(.retry("boom \(n)"), attempt: n)])
        }
        let row = try #require(try await fixture.row("m-3"))
        #expect(row.attempts == 3)
        #expect(row.status == "failed")
        #expect(row.lastError == "boom 3")
        try await fixture.drop()
    }

    @Test func theLastAttemptMarksTheRowDeadAndARedeliveryGoesToTheDeadLettersAgain() async throws {
        let fixture = try await StoreFixture.make()
        let failing = ClosureHandler { _, _ in throw CocoaLikeError() }
        for _ in 1...2 {
            _ = try await fixture.store.processTransactionally(
                consumer: fixture.consumer, [StoreFixture.request("m-4")], maxAttempts: 2, handler: failing)
        }
        #expect(try await fixture.row("m-4")?.status == "dead")
        let again = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("m-4")], maxAttempts: 2, handler: failing)
        #expect(again == [.notClaimed(.deadLettered(attempts: 2, lastError: "CocoaLikeError()"))])
        try await fixture.drop()
    }

    @Test("once its dead letter is confirmed, a dead row's redelivery is acknowledged, in both modes")
    func confirmedDeadLetterIsNotDeadLetteredAgain() async throws {
        let fixture = try await StoreFixture.make()
        let rejecting = ClosureHandler { _, _ in .reject("bad order") }
        _ = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("m-5"), StoreFixture.request("m-6")], maxAttempts: 2,
            handler: rejecting)
        try await fixture.store.confirmDeadLetters(
            consumer: fixture.consumer,
            ids: [MessageID("m-5", source: .messageId), MessageID("m-7", source: .messageId)])
        let again = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("m-5"), StoreFixture.request("m-6")], maxAttempts: 2,
            handler: rejecting)
        #expect(
            again == [
                .notClaimed(.deadLetterConfirmed), .notClaimed(.deadLettered(attempts: 1, lastError: "bad order")),
            ])
        let leases = try await fixture.store.claimLeases(
            consumer: fixture.consumer, [StoreFixture.request("m-5")], lease: .seconds(5))
        #expect(leases == [.deadLetterConfirmed])
        let rows = try await fixture.admin.query(
            "SELECT message_id FROM \(fixture.table.quoted) WHERE dead_letter_confirmed_at IS NOT NULL ORDER BY 1",
            prepared: false)
        #expect(rows.rows.map { $0[0] } == ["m-5"], "only dead rows are marked")
        try await fixture.drop()
    }
}

struct CocoaLikeError: Error {}

actor Counter {
    var value = 0
    func next() -> Int {
        value += 1
        return value
    }
}
