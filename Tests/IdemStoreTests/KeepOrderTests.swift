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
        let (effects, fail, handler) = try await failingInsert(fixture, table: "ordered", failing: "r3")
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

    @Test func aBatchOfSeveralLanesDefersOnlyTheFailingLane() async throws {
        let fixture = try await StoreFixture.make()
        let (effects, fail, handler) = try await failingInsert(fixture, table: "lanes", failing: "a2")
        // Two partitions interleaved, as a merged batch holds them; the last is a copy of a3
        // on the other partition.
        let batch = [
            Self.request("a1", lane: 0, offset: 1), Self.request("b1", lane: 1, offset: 1),
            Self.request("a2", lane: 0, offset: 2), Self.request("b2", lane: 1, offset: 2),
            Self.request("a3", lane: 0, offset: 3), Self.request("b3", lane: 1, offset: 3),
            Self.request("a3", lane: 1, offset: 4),
        ]
        let first = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, batch, maxAttempts: 2, handler: handler, keepOrder: true)
        guard case .handled(.retry, attempt: 1) = first[2] else {
            Issue.record("expected a transient failure, got \(first[2])")
            return
        }
        #expect(first[0] == .handled(.success, attempt: 1))
        #expect(first[1] == .handled(.success, attempt: 1))
        #expect(first[3] == .handled(.success, attempt: 1), "the other lane goes on past the failure")
        #expect(first[4] == .deferred)
        #expect(first[5] == .handled(.success, attempt: 1))
        // The copy is settled by its first copy, which its own lane retries.
        #expect(first[6] == .notClaimed(.duplicate))
        #expect(try await effectIDs(fixture, effects) == ["a1", "b1", "b2", "b3"])
        #expect(try await fixture.row("a3") == nil, "a deferred message is not claimed")

        // Lane 0 again from a2: its last attempt dead-letters it, and a3 takes effect once.
        let second = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, [batch[2], batch[4]], maxAttempts: 2, handler: handler, keepOrder: true)
        guard case .handled(.retry, attempt: 2) = second[0] else {
            Issue.record("expected the final transient failure, got \(second[0])")
            return
        }
        #expect(second[1] == .handled(.success, attempt: 1))
        #expect(try await effectIDs(fixture, effects) == ["a1", "b1", "b2", "b3", "a3"])
        _ = try await fixture.admin.query("DROP FUNCTION \(fail)(text)", prepared: false)
        try await fixture.drop(effects)
    }

    @Test func aSwiftHandlerStopsOnlyTheLaneOfATransientFailure() async throws {
        let fixture = try await StoreFixture.make()
        let seen = Seen()
        let handler = ClosureHandler { _, context in
            await seen.append(context.id.value)
            return context.id.value == "sa1" ? .retry("not yet") : .success
        }
        let batch = [
            Self.request("sa1", lane: 0, offset: 7), Self.request("sb1", lane: 1, offset: 7),
            Self.request("sa2", lane: 0, offset: 8), Self.request("sb2", lane: 1, offset: 8),
        ]
        let outcomes = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, batch, maxAttempts: 3, handler: handler, keepOrder: true)
        #expect(
            outcomes == [
                .handled(.retry("not yet"), attempt: 1), .handled(.success, attempt: 1), .deferred,
                .handled(.success, attempt: 1),
            ])
        // The first try stopped at sa1; the second ran lane 1 without sa1's successor.
        #expect(await seen.ids == ["sa1", "sb1", "sb2"])
        #expect(try await fixture.row("sb2")?.status == "done")
        #expect(try await fixture.row("sa1")?.status == "failed")
        #expect(try await fixture.row("sa2") == nil)
        try await fixture.drop()
    }

    /// A request for a record at `offset` of partition `lane` of topic `lanes`.
    private static func request(_ id: String, lane: Int32, offset: Int64) -> ClaimRequest {
        let message = Message(
            body: Array("{}".utf8),
            source: MessageSource(kind: "kafka", position: LogPosition(stream: "lanes", lane: lane, offset: offset)))
        return ClaimRequest(message: message, id: MessageID(id, source: .header("event-id")))
    }

    /// An effect table and an SQL handler inserting into it that fails transiently for
    /// `failing`: the table, the failing function, the handler.
    private func failingInsert(
        _ fixture: StoreFixture, table: String, failing: String
    ) async throws -> (effects: String, fail: String, handler: SQLHandler) {
        let effects = fixture.scratch(table)
        let fail = fixture.scratch("fail")
        _ = try await fixture.admin.query("CREATE TABLE \(effects) (id text, n serial)", prepared: false)
        _ = try await fixture.admin.query(
            """
            CREATE FUNCTION \(fail)(id text) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN IF id = '\(failing)' THEN RAISE EXCEPTION 'busy'; END IF; RETURN id; END $$
            """, prepared: false)
        let handler = SQLHandler(sql: "INSERT INTO \(effects)(id) VALUES (\(fail)($1))", parameters: [.id])
        return (effects, fail, handler)
    }

    private func effectIDs(_ fixture: StoreFixture, _ table: String) async throws -> [String] {
        try await fixture.admin.query("SELECT id FROM \(table) ORDER BY n").rows.map { $0[0]! }
    }
}

private actor Seen {
    var ids: [String] = []
    func append(_ id: String) { ids.append(id) }
}
