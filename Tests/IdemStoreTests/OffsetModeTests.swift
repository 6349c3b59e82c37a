import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import Testing

/// Offset mode: one row per partition holding its next offset, written in the handler's
/// transaction.
@Suite("Offset mode")
struct OffsetModeTests {
    static func record(_ offset: Int64, _ body: String = "{}", partition: Int32 = 0) -> ClaimRequest {
        let message = Message(
            body: Array(body.utf8),
            source: MessageSource(
                kind: "kafka", position: LogPosition(stream: "events", lane: partition, offset: offset),
                features: .recordKey))
        return ClaimRequest(message: message, id: MessageID("events:\(partition):\(offset)", source: .offset))
    }

    @Test func aBatchAdvancesTheStoredOffsetAndARedeliveryIsADuplicate() async throws {
        let fixture = try await StoreFixture.make()
        let effects = fixture.scratch("effects")
        _ = try await fixture.admin.query("CREATE TABLE \(effects) (id text, n serial)", prepared: false)
        let handler = SQLHandler(sql: "INSERT INTO \(effects)(id) VALUES ($1)", parameters: [.id])
        let batch = (10...14).map { Self.record($0) }
        let first = try await fixture.store.processOffsets(
            consumer: fixture.consumer, batch, poison: [:], maxAttempts: 3, handler: handler)
        #expect(first == Array(repeating: .handled(.success, attempt: 1), count: 5))
        #expect(try await fixture.store.storedOffsets(consumer: fixture.consumer, stream: "events") == [0: 15])
        // A redelivery of part of it, and the records after it.
        let again = try await fixture.store.processOffsets(
            consumer: fixture.consumer, (13...16).map { Self.record($0) }, poison: [:], maxAttempts: 3,
            handler: handler)
        #expect(
            again == [
                .notClaimed(.duplicate), .notClaimed(.duplicate), .handled(.success, attempt: 1),
                .handled(.success, attempt: 1),
            ])
        #expect(try await fixture.count("SELECT count(*) FROM \(effects)") == 7)
        #expect(try await fixture.count("SELECT count(*) FROM \(fixture.table.quoted)") == 0, "no row per message")
        #expect(try await fixture.store.storedOffsets(consumer: fixture.consumer, stream: "other").isEmpty)
        try await fixture.drop(effects)
    }

    @Test func aTransientFailureStopsThereAndCountsAttempts() async throws {
        let fixture = try await StoreFixture.make()
        let effects = fixture.scratch("effects")
        _ = try await fixture.admin.query("CREATE TABLE \(effects) (id text, n serial)", prepared: false)
        let fails = Fails(offsets: [2])
        let handler = ClosureHandler { message, context in
            guard let offset = message.source.position?.offset else { return .reject("no log position") }
            if await fails.contains(offset) { return .retry("busy at \(offset)") }
            _ = try await context.transaction!.execute("INSERT INTO \(effects)(id) VALUES ($1)", [context.id.value])
            return .success
        }
        let batch = (0...4).map { Self.record($0) }
        let first = try await fixture.store.processOffsets(
            consumer: fixture.consumer, batch, poison: [:], maxAttempts: 2, handler: handler)
        #expect(first[0...1] == [.handled(.success, attempt: 1), .handled(.success, attempt: 1)])
        #expect(first[2] == .handled(.retry("busy at 2"), attempt: 1))
        #expect(first[3...] == [.deferred, .deferred])
        #expect(try await fixture.store.storedOffsets(consumer: fixture.consumer, stream: "events") == [0: 2])
        // The retry from offset 2: its second and last attempt fails, the record is dead.
        let second = try await fixture.store.processOffsets(
            consumer: fixture.consumer, Array(batch[2...]), poison: [:], maxAttempts: 2, handler: handler)
        #expect(second == [.handled(.retry("busy at 2"), attempt: 2), .deferred, .deferred])
        // Redelivered before its dead letter was confirmed: dead-lettered again.
        let third = try await fixture.store.processOffsets(
            consumer: fixture.consumer, Array(batch[2...]), poison: [:], maxAttempts: 2, handler: handler)
        #expect(third == [.notClaimed(.deadLettered(attempts: 2, lastError: "busy at 2")), .deferred, .deferred])
        try await fixture.store.releaseDeadOffset(
            consumer: fixture.consumer, at: LogPosition(stream: "events", lane: 0, offset: 2))
        #expect(try await fixture.store.storedOffsets(consumer: fixture.consumer, stream: "events") == [0: 3])
        let fourth = try await fixture.store.processOffsets(
            consumer: fixture.consumer, Array(batch[3...]), poison: [:], maxAttempts: 2, handler: handler)
        #expect(fourth == [.handled(.success, attempt: 1), .handled(.success, attempt: 1)])
        let ids = try await fixture.admin.query("SELECT id FROM \(effects) ORDER BY n").rows.map { $0[0]! }
        #expect(ids == ["events:0:0", "events:0:1", "events:0:3", "events:0:4"])
        try await fixture.drop(effects)
    }

    @Test func poisonAndFailingStatementsStopTheBatchAsDead() async throws {
        let fixture = try await StoreFixture.make()
        let effects = fixture.scratch("effects")
        _ = try await fixture.admin.query(
            "CREATE TABLE \(effects) (id text, amount numeric CHECK (amount > 0))", prepared: false)
        let handler = SQLHandler(
            sql: "INSERT INTO \(effects)(id, amount) VALUES ($1, $2::numeric)",
            parameters: [.id, .json(try JSONPointer("/amount"))])
        let batch = [
            Self.record(0, #"{"amount": 1}"#), Self.record(1, #"{"amount": -1}"#), Self.record(2, #"{"amount": 2}"#),
        ]
        let first = try await fixture.store.processOffsets(
            consumer: fixture.consumer, batch, poison: [:], maxAttempts: 3, handler: handler)
        #expect(first[0] == .handled(.success, attempt: 1))
        guard case .handled(.reject, attempt: 1) = first[1] else {
            Issue.record("expected a reject, got \(first[1])")
            return
        }
        #expect(first[2] == .deferred)
        #expect(try await fixture.count("SELECT count(*) FROM \(effects)") == 1)
        try await fixture.store.releaseDeadOffset(
            consumer: fixture.consumer, at: LogPosition(stream: "events", lane: 0, offset: 1))
        let poisoned = try await fixture.store.processOffsets(
            consumer: fixture.consumer, [Self.record(2, #"{"amount": 2}"#), Self.record(3, #"{"amount": 3}"#)],
            poison: [1: .bodyTooLarge(size: 9, limit: 1)], maxAttempts: 3, handler: handler)
        #expect(poisoned == [.handled(.success, attempt: 1), .poison(.bodyTooLarge(size: 9, limit: 1))])
        #expect(try await fixture.store.storedOffsets(consumer: fixture.consumer, stream: "events") == [0: 3])
        try await fixture.drop(effects)
    }
}

private actor Fails {
    let offsets: Set<Int64>
    init(offsets: Set<Int64>) { self.offsets = offsets }
    func contains(_ offset: Int64) -> Bool { offsets.contains(offset) }
}
