import Testing

@testable import IdemCore

/// The pure rules of `idem dlq`: reading dead-letter headers back, the replay guard and the
/// selection.
@Suite("Dead-letter replay rules")
struct DeadLetterReplayRuleTests {
    func replay(_ id: Int64, at seconds: Double) -> ReplayRecord {
        ReplayRecord(id: id, messageId: "m", replayedAt: seconds, replayedBy: "alice@host")
    }

    @Test func aCopyWithoutReplaysMayBeReplayed() {
        #expect(ReplayGuard.earlierReplay(deadLetteredAt: 100, replayId: nil, history: []) == nil)
        #expect(ReplayGuard.earlierReplay(deadLetteredAt: nil, replayId: nil, history: []) == nil)
    }

    @Test func aReplayAfterTheCopyWasDeadLetteredCoversIt() {
        let covering = ReplayGuard.earlierReplay(deadLetteredAt: 100, replayId: nil, history: [replay(7, at: 150.5)])
        #expect(covering?.id == 7)
    }

    @Test func aCopyDeadLetteredAfterTheReplayIsANewFailure() {
        #expect(ReplayGuard.earlierReplay(deadLetteredAt: 200, replayId: nil, history: [replay(7, at: 150.5)]) == nil)
    }

    @Test func theSameSecondCountsAsReplayed() {
        // x-idem-dead-lettered-at has whole seconds: 150 may be 150.9, after a replay at
        // 150.2, or 150.0, before it. When in doubt, refuse.
        #expect(ReplayGuard.earlierReplay(deadLetteredAt: 150, replayId: nil, history: [replay(7, at: 150.2)])?.id == 7)
        #expect(ReplayGuard.earlierReplay(deadLetteredAt: 151, replayId: nil, history: [replay(7, at: 150.9)]) == nil)
    }

    @Test func withoutADeadLetterTimeAnyReplayCovers() {
        let covering = ReplayGuard.earlierReplay(
            deadLetteredAt: nil, replayId: nil, history: [replay(3, at: 10), replay(9, at: 20)])
        #expect(covering?.id == 9)
    }

    @Test func aCopyThatFailedAgainAfterAReplayIsNotCoveredByThatReplay() {
        // Replay 7 at 150.2 put the message back; it failed again and was dead-lettered in
        // the same second, carrying x-idem-replay-id 7.
        #expect(ReplayGuard.earlierReplay(deadLetteredAt: 150, replayId: 7, history: [replay(7, at: 150.2)]) == nil)
        // Even with a clock behind PostgreSQL's.
        #expect(ReplayGuard.earlierReplay(deadLetteredAt: 140, replayId: 7, history: [replay(7, at: 150.2)]) == nil)
        // A later replay of that copy covers it.
        let history = [replay(7, at: 150.2), replay(8, at: 160)]
        #expect(ReplayGuard.earlierReplay(deadLetteredAt: 150, replayId: 7, history: history)?.id == 8)
    }

    @Test func theLatestCoveringReplayIsNamed() {
        let history = [replay(2, at: 120), replay(5, at: 130), replay(4, at: 90)]
        #expect(ReplayGuard.earlierReplay(deadLetteredAt: 100, replayId: nil, history: history)?.id == 5)
    }

    @Test func metadataReadsTypedAMQPHeaders() {
        let metadata = DeadLetterMetadata(headers: [
            DeadLetterHeaders.reason: .string("rejected"), DeadLetterHeaders.attempts: .int(3),
            DeadLetterHeaders.source: .string("amqp:orders"), DeadLetterHeaders.firstSeen: .timestamp(1_700_000_000),
            DeadLetterHeaders.deadLetteredAt: .timestamp(1_700_000_100), DeadLetterHeaders.lastError: .string("boom"),
            DeadLetterHeaders.consumer: .string("orders"), DeadLetterHeaders.messageId: .string("m-1"),
            DeadLetterHeaders.replayId: .int(12), "other": .string("x"),
        ])
        #expect(
            metadata
                == DeadLetterMetadata(
                    reason: "rejected", attempts: 3, source: "amqp:orders", firstSeen: 1_700_000_000,
                    deadLetteredAt: 1_700_000_100, lastError: "boom", consumer: "orders", messageId: "m-1", replayId: 12
                ))
        #expect(metadata.sourcePosition?.stream == nil)
        #expect(metadata.auditID(body: [1, 2]) == "m-1")
    }

    @Test func metadataReadsKafkaTextHeaders() {
        func text(_ value: String) -> HeaderValue { .bytes(Array(value.utf8)) }
        let metadata = DeadLetterMetadata(headers: [
            DeadLetterHeaders.reason: text("poison:no-id"), DeadLetterHeaders.attempts: text("0"),
            DeadLetterHeaders.source: text("orders.eu:3:42"), DeadLetterHeaders.deadLetteredAt: text("1700000100"),
            DeadLetterHeaders.firstSeen: text("not a number"),
        ])
        #expect(metadata.reason == "poison:no-id")
        #expect(metadata.attempts == 0)
        #expect(metadata.deadLetteredAt == 1_700_000_100)
        #expect(metadata.firstSeen == nil)
        #expect(metadata.sourcePosition?.stream == "orders.eu")
        #expect(metadata.messageId == nil)
        #expect(metadata.auditID(body: Array("abc".utf8)) == "sha256:" + IdentityChain.sha256Hex(Array("abc".utf8)))
    }

    @Test func aSourcePositionNeedsLaneAndOffset() {
        #expect(DeadLetterMetadata(source: "t:0:5").sourcePosition?.stream == "t")
        #expect(DeadLetterMetadata(source: "t:x:5").sourcePosition?.stream == nil)
        #expect(DeadLetterMetadata(source: ":0:5").sourcePosition?.stream == nil)
        #expect(DeadLetterMetadata(source: "t").sourcePosition?.stream == nil)
        #expect(DeadLetterMetadata(source: nil).sourcePosition?.stream == nil)
    }

    @Test func selectionByIDReasonAndLimit() {
        let all = ReplaySelection()
        #expect(all.selects(id: "a", reasonCode: nil))
        #expect(!all.isExhausted(after: 1_000_000))
        let some = ReplaySelection(ids: ["a", "b"], reason: "poison", limit: 2)
        #expect(some.selects(id: "a", reasonCode: "poison:no-id"))
        #expect(some.selects(id: "b", reasonCode: "poison"))
        #expect(!some.selects(id: "a", reasonCode: "poisoned"))
        #expect(!some.selects(id: "a", reasonCode: "rejected"))
        #expect(!some.selects(id: "a", reasonCode: nil))
        #expect(!some.selects(id: "c", reasonCode: "poison"))
        #expect(!some.isExhausted(after: 1))
        #expect(some.isExhausted(after: 2))
    }

    @Test func deadLetterHeadersCarryTheDeadLetterTime() {
        let headers = DeadLetterHeaders.headers(
            reason: .rejected("bad", attempt: 1), consumer: "c",
            source: MessageSource(
                kind: "kafka", position: LogPosition(stream: "t", lane: 1, offset: 2), features: .recordKey),
            id: MessageID("m", source: .key), firstSeen: 10,
            deadLetteredAt: 20)
        let byName = Dictionary(headers, uniquingKeysWith: { first, _ in first })
        #expect(byName[DeadLetterHeaders.deadLetteredAt] == .timestamp(20))
        #expect(DeadLetterMetadata(headers: byName).deadLetteredAt == 20)
        #expect(DeadLetterHeaders.isIdemHeader(DeadLetterHeaders.replayId))
        #expect(!DeadLetterHeaders.isIdemHeader("x-death"))
    }
}
