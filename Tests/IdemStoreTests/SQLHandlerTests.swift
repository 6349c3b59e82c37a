import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import Testing

@Suite("The sql handler")
struct SQLHandlerTests {
    @Test func everyParameterKind() async throws {
        let fixture = try await StoreFixture.make()
        let target = fixture.scratch("params")
        _ = try await fixture.admin.query(
            "CREATE TABLE \(target) (id text, body text, fence bigint, attempt int, source text, amount numeric, sku text, tenant text, note text)",
            prepared: false)
        let handler = SQLHandler(
            sql: "INSERT INTO \(target) VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, $8, $9)",
            parameters: [
                .id, .body, .fence, .attempt, .source, .json(try JSONPointer("/amount")),
                .json(try JSONPointer("/items/0/sku")), .header("tenant"), .json(try JSONPointer("/note")),
            ])
        let body = #"{"amount": 12.50, "items": [{"sku": "a'b\"c; DROP TABLE x"}], "note": null}"#
        let outcome = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("o-1", body, headers: ["tenant": .string("acme")])],
            maxAttempts: 3, handler: handler)
        #expect(outcome == [.handled(.success, attempt: 1)])
        let row = try await fixture.admin.query("SELECT * FROM \(target)").rows
        #expect(row == [["o-1", body, "1", "1", "amqp:orders", "12.50", "a'b\"c; DROP TABLE x", "acme", nil]])
        try await fixture.drop(target)
    }

    @Test func aCheckViolationRejectsOnlyThatMessage() async throws {
        let fixture = try await StoreFixture.make()
        let target = fixture.scratch("orders")
        _ = try await fixture.admin.query(
            "CREATE TABLE \(target) (id text PRIMARY KEY, amount numeric CHECK (amount > 0))", prepared: false)
        let handler = SQLHandler(
            sql: "INSERT INTO \(target) VALUES ($1, $2::numeric)", parameters: [.id, .json(try JSONPointer("/amount"))])
        let outcomes = try await fixture.store.processTransactionally(
            consumer: fixture.consumer,
            [
                StoreFixture.request("a", #"{"amount": 5}"#), StoreFixture.request("b", #"{"amount": -1}"#),
                StoreFixture.request("c", #"{"amount": 7}"#),
            ], maxAttempts: 3, handler: handler)
        #expect(outcomes[0] == .handled(.success, attempt: 1))
        #expect(outcomes[2] == .handled(.success, attempt: 1))
        guard case .handled(.reject(let reason), attempt: 1) = outcomes[1] else {
            Issue.record("expected a reject, got \(outcomes[1])")
            return
        }
        #expect(reason.contains("23514"))
        #expect(try await fixture.count("SELECT count(*) FROM \(target)") == 2)
        #expect(try await fixture.row("b")?.status == "dead")
        try await fixture.drop(target)
    }

    /// A single-row insert runs once per batch once its parameter types are known: the
    /// same rows, in the batch's order, new IDs only; a message that fails it is found by
    /// running the batch again one statement per message, and only that one is rejected.
    @Test func aSingleRowInsertRunsOncePerBatchWithTheSameRows() async throws {
        let fixture = try await StoreFixture.make(poolSize: 1)
        let target = fixture.scratch("orders")
        _ = try await fixture.admin.query(
            "CREATE TABLE \(target) (n bigserial, id text, amount numeric CHECK (amount > 0), sku text)",
            prepared: false)
        let sql = "INSERT INTO \(target)(id, amount, sku) VALUES ($1, $2::numeric, $3)"
        let handler = SQLHandler(
            sql: sql, parameters: [.id, .json(try JSONPointer("/amount")), .json(try JSONPointer("/sku"))])
        func batch(_ ids: [String], amount: (String) -> String = { _ in "2.5" }) -> [ClaimRequest] {
            ids.map { StoreFixture.request($0, #"{"amount": \#(amount($0)), "sku": "s\"\#($0),{x}"}"#) }
        }
        // The first batch prepares the statement (one per message); the types are known after.
        let first = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, batch(["w1", "w2"]), maxAttempts: 3, handler: handler)
        #expect(first == [.handled(.success, attempt: 1), .handled(.success, attempt: 1)])
        #expect(fixture.store.batchedInserts.runsOncePerBatch(sql) == nil)
        let ids = ["z", "a", "w1", "m", "b"]
        let second = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, batch(ids), maxAttempts: 3, handler: handler)
        #expect(fixture.store.batchedInserts.runsOncePerBatch(sql) == true)
        #expect(second[2] == .notClaimed(.duplicate))
        #expect(second.enumerated().allSatisfy { $0.offset == 2 || $0.element == .handled(.success, attempt: 1) })
        let rows = try await fixture.admin.query("SELECT id, amount, sku FROM \(target) ORDER BY n").rows
        #expect(
            rows == [
                ["w1", "2.5", "s\"w1,{x}"], ["w2", "2.5", "s\"w2,{x}"], ["z", "2.5", "s\"z,{x}"],
                ["a", "2.5", "s\"a,{x}"], ["m", "2.5", "s\"m,{x}"], ["b", "2.5", "s\"b,{x}"],
            ], "the batch's order, not the claim's ID order")
        // One message breaks the check: the batched statement fails, the batch runs again
        // per message, and only that message is rejected.
        let third = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, batch(["c", "d", "e"]) { $0 == "d" ? "-1" : "3" }, maxAttempts: 3,
            handler: handler)
        #expect(third[0] == .handled(.success, attempt: 1))
        #expect(third[2] == .handled(.success, attempt: 1))
        guard case .handled(.reject(let reason), attempt: 1) = third[1] else {
            Issue.record("expected a reject, got \(third[1])")
            return
        }
        #expect(reason.contains("23514"))
        #expect(try await fixture.row("d")?.status == "dead")
        #expect(try await fixture.count("SELECT count(*) FROM \(target) WHERE id IN ('c', 'd', 'e')") == 2)
        #expect(fixture.store.batchedInserts.runsOncePerBatch(sql) == true, "a message's failure keeps the form")
        try await fixture.drop(target)
    }

    @Test func aMissingJSONFieldIsPoisonNotNull() async throws {
        let fixture = try await StoreFixture.make()
        let target = fixture.scratch("orders")
        _ = try await fixture.admin.query("CREATE TABLE \(target) (id text, amount numeric)", prepared: false)
        let handler = SQLHandler(
            sql: "INSERT INTO \(target) VALUES ($1, $2::numeric)", parameters: [.id, .json(try JSONPointer("/amount"))])
        let outcomes = try await fixture.store.processTransactionally(
            consumer: fixture.consumer,
            [StoreFixture.request("a", #"{"total": 5}"#), StoreFixture.request("b", #"{"amount": 1}"#)],
            maxAttempts: 3, handler: handler)
        #expect(outcomes[0] == .poison(.undecodable("sql parameter json:/amount: no member 'amount'")))
        #expect(outcomes[1] == .handled(.success, attempt: 1))
        #expect(try await fixture.count("SELECT count(*) FROM \(target)") == 1)
        #expect(try await fixture.row("a")?.status == "dead")
        let missingHeader = SQLHandler(sql: "SELECT $1", parameters: [.header("tenant")])
        let headerOutcome = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("c")], maxAttempts: 3, handler: missingHeader)
        #expect(headerOutcome == [.poison(.undecodable("sql parameter header:tenant: the message has no such header"))])
        try await fixture.drop(target)
    }

    @Test func aDeadlockIsATransientConflict() async throws {
        let fixture = try await StoreFixture.make()
        let accounts = fixture.scratch("accounts")
        _ = try await fixture.admin.query("CREATE TABLE \(accounts) (id int PRIMARY KEY, n int)", prepared: false)
        _ = try await fixture.admin.query("INSERT INTO \(accounts) VALUES (1, 0), (2, 0)", prepared: false)
        // Each statement locks its account row, then sleeps, so that two batches taking the
        // rows in opposite order deadlock.
        let handler = SQLHandler(
            sql: "UPDATE \(accounts) SET n = n + 1 WHERE id = $1::int AND pg_sleep(0.4) IS NOT NULL",
            parameters: [.json(try JSONPointer("/account"))])
        let (storeA, poolA) = fixture.separateStore()
        let (storeB, poolB) = fixture.separateStore()
        // IDs sort a < b inside a batch, so batch A updates 1 then 2, batch B 2 then 1.
        async let a = result(
            storeA, fixture,
            [StoreFixture.request("a1", #"{"account": 1}"#), StoreFixture.request("a2", #"{"account": 2}"#)],
            handler)
        async let b = result(
            storeB, fixture,
            [StoreFixture.request("b1", #"{"account": 2}"#), StoreFixture.request("b2", #"{"account": 1}"#)],
            handler)
        let outcomes = await [a, b]
        await poolA.close()
        await poolB.close()
        let conflicts = outcomes.filter {
            if case .failure(let error) = $0 { return error.code == .conflict }
            return false
        }
        #expect(conflicts.count == 1, "\(outcomes)")
        #expect(
            outcomes.contains { (try? $0.get()) == [.handled(.success, attempt: 1), .handled(.success, attempt: 1)] })
        // The loser left nothing behind: its messages are claimable again.
        #expect(try await fixture.count("SELECT count(*) FROM \(fixture.table.quoted)") == 2)
        #expect(
            SQLHandler.classify(sqlState: "40P01", message: "deadlock detected")
                == .retry("deadlock detected (SQLSTATE 40P01)"))
        #expect(SQLHandler.classify(sqlState: "22P02", message: "bad number") == .reject("bad number (SQLSTATE 22P02)"))
        try await fixture.drop(accounts)
    }

    @Test func aStatementLongerThanTheTimeoutIsATransientFailureOfThatMessageOnly() async throws {
        let fixture = try await StoreFixture.make()
        let target = fixture.scratch("slow")
        _ = try await fixture.admin.query("CREATE TABLE \(target) (id text, pause float8)", prepared: false)
        let handler = SQLHandler(
            sql: "INSERT INTO \(target) SELECT $1, $2::float8 FROM pg_sleep($2::float8)",
            parameters: [.id, .json(try JSONPointer("/pause"))], timeout: .milliseconds(300))
        let outcomes = try await fixture.store.processTransactionally(
            consumer: fixture.consumer,
            [
                StoreFixture.request("fast-1", #"{"pause": 0}"#), StoreFixture.request("slow", #"{"pause": 5}"#),
                StoreFixture.request("fast-2", #"{"pause": 0.01}"#),
            ], maxAttempts: 3, handler: handler)
        #expect(outcomes[0] == .handled(.success, attempt: 1))
        #expect(outcomes[2] == .handled(.success, attempt: 1))
        guard case .handled(.retry(let reason), attempt: 1) = outcomes[1] else {
            Issue.record("expected a transient failure, got \(outcomes[1])")
            return
        }
        #expect(reason.contains("handler.timeout"), "\(reason)")
        #expect(reason.contains("57014"), "\(reason)")
        #expect(try await fixture.row("slow")?.status == "failed")
        #expect(try await fixture.row("slow")?.attempts == 1)
        #expect(try await fixture.count("SELECT count(*) FROM \(target)") == 2)
        // The timeout is the transaction's own: the session keeps its setting.
        #expect(try await fixture.admin.query("SHOW statement_timeout").rows == [["0"]])
        try await fixture.drop(target)
    }

    @Test func firstSeenIsTheTimeTheRowWasCreated() async throws {
        let fixture = try await StoreFixture.make()
        let handler = SQLHandler(sql: "SELECT $1", parameters: [.id])
        _ = try await fixture.store.processTransactionally(
            consumer: fixture.consumer, [StoreFixture.request("seen")], maxAttempts: 3, handler: handler)
        _ = try await fixture.admin.query(
            "UPDATE \(fixture.table.quoted) SET first_seen_at = to_timestamp(1700000000) WHERE message_id = 'seen'")
        let ids = [MessageID("seen", source: .messageId), MessageID("never", source: .messageId)]
        #expect(try await fixture.store.firstSeen(consumer: fixture.consumer, ids: ids) == ["seen": 1_700_000_000])
        #expect(try await fixture.store.firstSeen(consumer: fixture.consumer, ids: []) == [:])
        try await fixture.drop()
    }

    private func result(
        _ store: PostgresDedupStore, _ fixture: StoreFixture, _ requests: [ClaimRequest], _ handler: SQLHandler
    ) async -> Result<[TransactionalOutcome], DedupStoreError> {
        do {
            return .success(
                try await store.processTransactionally(
                    consumer: fixture.consumer, requests, maxAttempts: 3, handler: handler))
        } catch {
            return .failure(error)
        }
    }
}
