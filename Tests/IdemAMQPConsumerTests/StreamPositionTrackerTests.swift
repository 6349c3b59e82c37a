import Testing

@testable import IdemAMQPConsumer

/// The position of a stream consumer: the lowest offset whose record is not done, which is
/// where a restarted consumer resumes without losing a record.
@Suite("StreamPositionTracker")
struct StreamPositionTrackerTests {
    private func receive(_ tracker: inout StreamPositionTracker, _ offsets: ClosedRange<Int64>, from tag: String) {
        for offset in offsets { tracker.receive(offset: offset, consumerTag: tag) }
    }

    @Test func theFirstAttachmentStartsAtTheStartAndThePositionFollowsTheRecordsDone() {
        var tracker = StreamPositionTracker(stored: nil)
        #expect(tracker.attachOffset == nil, "nothing stored: the configured start")
        tracker.attached(consumerTag: "a", at: nil)
        receive(&tracker, 7...12, from: "a")
        #expect(tracker.position == 7, "the first record delivered")
        #expect(tracker.unstored == 7, "stored at once: a restart starts there, not at a new `next`")
        tracker.done([7, 8])
        #expect(tracker.position == 9)
        #expect(tracker.unstored == 9)
        tracker.markStored(9)
        #expect(tracker.unstored == nil)
        #expect(tracker.attachOffset == 13, "one past the last received")
    }

    @Test func recordsDoneOutOfOrderWaitForTheGapBelowThem() {
        var tracker = StreamPositionTracker(stored: 100)
        #expect(tracker.attachOffset == 100)
        tracker.attached(consumerTag: "a", at: 100)
        receive(&tracker, 100...109, from: "a")
        tracker.done([105, 106, 107, 108, 109])
        #expect(tracker.position == 100, "100 to 104 are still in flight")
        #expect(tracker.isDone(106) && !tracker.isDone(103))
        tracker.done([100, 101, 102, 103])
        #expect(tracker.position == 104)
        tracker.done([104])
        #expect(tracker.position == 110)
        #expect(tracker.isDone(99) && !tracker.isDone(110))
    }

    @Test func aRetriedRecordHoldsThePositionUntilItsNextDeliveryIsDone() {
        var tracker = StreamPositionTracker(stored: 0)
        tracker.attached(consumerTag: "a", at: 0)
        receive(&tracker, 0...9, from: "a")
        tracker.retry(6)
        tracker.retry(4)
        tracker.retry(8)
        tracker.done([0, 1, 2, 3, 5, 7, 9])
        #expect(tracker.position == 4)
        #expect(tracker.attachOffset == 4, "the lowest record to retry")
        tracker.attached(consumerTag: "b", at: 4)
        #expect(tracker.attachOffset == 10, "attached there: the retry is under way")
        receive(&tracker, 4...9, from: "b")
        #expect(tracker.isDone(5) && tracker.isDone(7), "read again, done before: skipped")
        tracker.done([4, 6])
        #expect(tracker.position == 8)
        tracker.done([8])
        #expect(tracker.position == 10)
    }

    @Test func aRetryAskedWhileAttachingIsKeptForTheNextAttachment() {
        var tracker = StreamPositionTracker(stored: 0)
        tracker.attached(consumerTag: "a", at: 0)
        receive(&tracker, 0...3, from: "a")
        tracker.retry(2)
        tracker.attached(consumerTag: "b", at: 2, clearingRetry: false)
        #expect(tracker.attachOffset == 2)
    }

    @Test func offsetsAnAttachmentSkipsAreNotInTheStreamAndCountAsDone() {
        // Retention removed 50 to 999 while the consumer was away.
        var tracker = StreamPositionTracker(stored: 50)
        tracker.attached(consumerTag: "a", at: 50)
        receive(&tracker, 1000...1002, from: "a")
        #expect(tracker.position == 1000)
        tracker.done([1000, 1001, 1002])
        #expect(tracker.position == 1003)
        // Within an attachment too.
        tracker.receive(offset: 1010, consumerTag: "a")
        tracker.done([1010])
        #expect(tracker.position == 1011)
    }

    @Test func lateDeliveriesOfACancelledAttachmentOverlapWithoutMovingThePositionWrongly() {
        var tracker = StreamPositionTracker(stored: 0)
        tracker.attached(consumerTag: "a", at: 0)
        receive(&tracker, 0...4, from: "a")
        // Paused at 4, resumed at 5; "a" still sends 5 and 6 it had in flight.
        tracker.attached(consumerTag: "b", at: tracker.attachOffset)
        receive(&tracker, 5...6, from: "a")
        receive(&tracker, 5...8, from: "b")
        tracker.done([0, 1, 2, 3, 4, 6, 7, 8])
        #expect(tracker.position == 5, "5 is in flight")
        tracker.done([5])
        #expect(tracker.position == 9)
    }
}
