import IdemCore
import Synchronization
import Testing

@testable import IdemConsumerKit

/// How decisions are counted for the metrics and the per-minute stats.
@Suite("Decision tally")
struct DecisionTallyTests {
    @Test func eachDispositionCountsWhereItBelongs() {
        let tally = DecisionTally([
            .acknowledge(.processed), .acknowledge(.processed), .acknowledge(.duplicate),
            .acknowledge(.payloadConflictAccepted),
            .retry(after: .seconds(1), countsAsAttempt: true, reason: "busy"),
            .retry(after: .zero, countsAsAttempt: false, reason: "held"),
            .deadLetter(.rejected("no", attempt: 1)), .deadLetter(.rejected("no", attempt: 2)),
            .deadLetter(.payloadConflict(storedHash: "a", receivedHash: "b")), .suspend,
        ])
        #expect(tally.received == 10)
        #expect(tally.processed == 2)
        #expect(tally.duplicates == 2)
        #expect(tally.payloadConflicts == 2)
        #expect(tally.retried == 1)
        #expect(tally.deferred == 1)
        #expect(tally.deadLettered == ["rejected": 2, "payload-conflict": 1])
        #expect(tally.deadLetteredTotal == 3)
    }

    @Test func minutesAddUpDrainAndComeBack() {
        let now = Clock()
        let minutes = MinuteStats(clock: { now.seconds })
        minutes.add(consumer: "a", DecisionTally([.acknowledge(.processed)]))
        minutes.add(consumer: "a", DecisionTally([.acknowledge(.duplicate)]))
        minutes.add(consumer: "b", DecisionTally([]))
        now.seconds = 60_000 + 61
        minutes.add(consumer: "a", DecisionTally([.acknowledge(.processed)]))
        let drained = minutes.drain().sorted { $0.minute < $1.minute }
        #expect(drained.map(\.minute) == [60_000, 60_060])
        #expect(drained[0].tally.received == 2 && drained[0].tally.duplicates == 1)
        #expect(minutes.drain().isEmpty)
        minutes.restore(drained)
        minutes.add(consumer: "a", DecisionTally([.acknowledge(.processed)]))
        let again = minutes.drain().sorted { $0.minute < $1.minute }
        #expect(again.map(\.tally.received) == [2, 2])
    }
}

private final class Clock: Sendable {
    private let now = Mutex<Int64>(60_000 + 5)

    var seconds: Int64 {
        get { now.withLock { $0 } }
        set { now.withLock { $0 = newValue } }
    }
}
