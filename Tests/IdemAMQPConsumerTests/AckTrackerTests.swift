import Testing

@testable import IdemAMQPConsumer

@Suite("AckTracker")
struct AckTrackerTests {
    @Test func inOrderSettlementAcksThePrefixWithOneMultipleAck() {
        var tracker = AckTracker()
        tracker.receive([1, 2, 3])
        for tag: UInt64 in [1, 2, 3] { tracker.settle(tag, needsAck: true) }
        #expect(tracker.takeMultipleAck() == 3)
        #expect(tracker.outstanding == 0)
        #expect(tracker.takeMultipleAck() == nil)
    }

    @Test func aLaterBatchFinishingFirstWaitsForTheEarlierOne() {
        var tracker = AckTracker()
        tracker.receive([1, 2, 3, 4, 5, 6])
        for tag: UInt64 in [4, 5, 6] { tracker.settle(tag, needsAck: true) }
        #expect(tracker.takeMultipleAck() == nil, "tags 1-3 are still in flight")
        #expect(tracker.outstanding == 6)
        for tag: UInt64 in [1, 2, 3] { tracker.settle(tag, needsAck: true) }
        #expect(tracker.takeMultipleAck() == 6)
        #expect(tracker.outstanding == 0)
    }

    @Test func theAckStopsAtTheFirstUnsettledDelivery() {
        var tracker = AckTracker()
        tracker.receive([10, 11, 12, 13])
        tracker.settle(10, needsAck: true)
        tracker.settle(11, needsAck: true)
        tracker.settle(13, needsAck: true)
        #expect(tracker.takeMultipleAck() == 11)
        #expect(tracker.outstanding == 2)
        tracker.settle(12, needsAck: true)
        #expect(tracker.takeMultipleAck() == 13)
    }

    @Test func nackedDeliveriesAreCoveredButNeverNamed() {
        var tracker = AckTracker()
        tracker.receive([1, 2, 3, 4])
        tracker.settle(1, needsAck: true)
        tracker.settle(2, needsAck: true)
        tracker.settle(3, needsAck: false)
        tracker.settle(4, needsAck: false)
        // RabbitMQ refuses an ack naming a nacked tag: the ack names 2, and covers 3 and 4
        // only in the sense that they are no longer tracked.
        #expect(tracker.takeMultipleAck() == 2)
        #expect(tracker.outstanding == 0)
    }

    @Test func aPrefixOfOnlyNackedDeliveriesSendsNoAck() {
        var tracker = AckTracker()
        tracker.receive([1, 2])
        tracker.settle(1, needsAck: false)
        tracker.settle(2, needsAck: false)
        #expect(tracker.takeMultipleAck() == nil)
        #expect(tracker.outstanding == 0)
    }

    @Test func settledDeliveriesBehindAnUnsettledOneAreAckedSingly() {
        var tracker = AckTracker()
        tracker.receive([1, 2, 3, 4, 5])
        tracker.settle(1, needsAck: true)
        tracker.settle(3, needsAck: true)
        tracker.settle(4, needsAck: false)
        tracker.settle(5, needsAck: true)
        #expect(tracker.takeMultipleAck() == 1)
        #expect(tracker.takeSettledOutOfOrder() == [3, 5])
        #expect(tracker.outstanding == 1, "tag 2 is left for the broker to requeue")
        #expect(tracker.takeMultipleAck() == nil)
    }

    @Test func resetForgetsEverything() {
        var tracker = AckTracker()
        tracker.receive([1, 2])
        tracker.settle(2, needsAck: true)
        tracker.reset()
        #expect(tracker.outstanding == 0)
        #expect(tracker.takeSettledOutOfOrder().isEmpty)
        tracker.receive([1])
        tracker.settle(1, needsAck: true)
        #expect(tracker.takeMultipleAck() == 1)
    }

    @Test func manyRoundsKeepTheQueueCompact() {
        var tracker = AckTracker()
        var next: UInt64 = 1
        for _ in 0..<50 {
            let batch = Array(next..<next + 200)
            next += 200
            tracker.receive(batch)
            for tag in batch.reversed() { tracker.settle(tag, needsAck: true) }
            #expect(tracker.takeMultipleAck() == batch.last)
        }
        #expect(tracker.outstanding == 0)
    }
}
