import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import Testing

/// `keepOrder` (a Kafka partition): a transient failure ends the batch there, so nothing
/// after it takes effect before it.
@Suite("Keeping order within a batch")
struct KeepOrderTests {
    @Test func aTransientStatementFailureDefersEverythingAfterIt() async throws {
        let fixture = try await StoreFixture.make()
        let effects = fixture.scratch("ordered")
        let fail = fixture.scratch("fail")
        _ = try await fixture.admin.query("CREATE TABLE \(effects) (id text, n serial)", prepared: false)
        _ = try await fixture.admin.query(
            """
            CREATE FUNCTION \(fail)(id text) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN IF id = 'r3' THEN RAISE EXCEPTION 'busy'; END IF; RETURN id; END $$
            """, prepared: false)
        let handler = SQLHandler(sql: "INSERT INTO \(effects)(id) VALUES (\(fail)($1))", parameters: [.id])
        let batch = (1...5).map { StoreFixture.request("r\($0)") } + [StoreFixture.request("r1")]

        let first = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, batch, maxAttempts: 2, handler: handler, keepOrder: true)
        #expect(first[0] == .handled(.success, attempt: 1))
        #expect(first[1] == .handled(.success, attempt: 1))
        guard case .handled(.retry, attempt: 1) = first[2] else {
            Issue.record("expected a transient failure, got \(first[2])")
            return
        }
        #expect(Array(first[3...]) == [.deferred, .deferred, .deferred])
        #expect(try await effectIDs(fixture, effects) == ["r1", "r2"])
        #expect(try await fixture.row("r3")?.status == "failed")
        #expect(try await fixture.row("r4") == nil, "a deferred message is not claimed")

        // The retry of r3 onwards: its last attempt dead-letters it, and the rest follow.
        let second = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, Array(batch[2...]), maxAttempts: 2, handler: handler, keepOrder: true)
        guard case .handled(.retry, attempt: 2) = second[0] else {
            Issue.record("expected the final transient failure, got \(second[0])")
            return
        }
        #expect(second[1] == .handled(.success, attempt: 1))
        #expect(second[2] == .handled(.success, attempt: 1))
        #expect(second[3] == .notClaimed(.duplicate))
        #expect(try await fixture.row("r3")?.status == "dead")
        #expect(try await effectIDs(fixture, effects) == ["r1", "r2", "r4", "r5"])
        _ = try await fixture.admin.query("DROP FUNCTION \(fail)(text)", prepared: false)
        try await fixture.drop(effects)
    }

    @Test func withoutKeepingOrderTheRestOfTheBatchGoesOn() async throws {
        let fixture = try await StoreFixture.make()
        let handler = ClosureHandler { message, context in
            context.id.value == "b2" ? .retry("busy") : .success
        }
        let outcomes = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, (1...3).map { StoreFixture.request("b\($0)") }, maxAttempts: 3,
            handler: handler)
        #expect(
            outcomes == [
                .handled(.success, attempt: 1), .handled(.retry("busy"), attempt: 1), .handled(.success, attempt: 1),
            ])
        try await fixture.drop()
    }

    @Test func aSwiftHandlerRunsInBatchOrderAndStopsAtATransientFailure() async throws {
        let fixture = try await StoreFixture.make()
        let seen = Seen()
        let handler = ClosureHandler { _, context in
            await seen.append(context.id.value)
            return context.id.value == "s-b" ? .retry("not yet") : .success
        }
        // IDs that sort differently from the batch order.
        let batch = ["s-z", "s-b", "s-a"].map { StoreFixture.request($0) }
        let outcomes = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, batch, maxAttempts: 3, handler: handler, keepOrder: true)
        #expect(outcomes == [.handled(.success, attempt: 1), .handled(.retry("not yet"), attempt: 1), .deferred])
        // s-z and s-b ran in batch order; the transaction was then run again without s-b's
        // successors, so s-z ran twice and s-a never.
        #expect(await seen.ids == ["s-z", "s-b", "s-z"])
        #expect(try await fixture.row("s-z")?.status == "done")
        #expect(try await fixture.row("s-b")?.status == "failed")
        #expect(try await fixture.row("s-a") == nil)
        try await fixture.drop()
    }

    private func effectIDs(_ fixture: StoreFixture, _ table: String) async throws -> [String] {
        try await fixture.admin.query("SELECT id FROM \(table) ORDER BY n").rows.map { $0[0]! }
    }
}

private actor Seen {
    var ids: [String] = []
    func append(_ id: String) { ids.append(id) }
}
