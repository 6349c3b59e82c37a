import Testing

@testable import IdemAMQP

/// Publisher-confirm bookkeeping without a broker.
@Suite("AMQP publisher-confirm tracking")
struct AMQPConfirmTrackerTests {
    @Test("sequence numbers start at 1 in confirm mode and are 0 without it")
    func numbering() {
        var tracker = AMQPConfirmTracker()
        #expect(tracker.published(exchange: "", routingKey: "q", body: [], mandatory: false, awaited: false) == 0)
        #expect(!tracker.hasPending)
        tracker.enable()
        #expect(tracker.published(exchange: "", routingKey: "q", body: [], mandatory: false, awaited: false) == 1)
        #expect(tracker.published(exchange: "", routingKey: "q", body: [], mandatory: false, awaited: true) == 2)
        #expect(tracker.pendingCount == 2)
    }

    @Test("a multiple ack confirms every earlier publish; a nack fails them")
    func multipleAckAndNack() {
        var tracker = AMQPConfirmTracker()
        tracker.enable()
        for _ in 1...5 {
            _ = tracker.published(exchange: "e", routingKey: "k", body: [1], mandatory: false, awaited: false)
        }
        let awaited = tracker.published(exchange: "e", routingKey: "k", body: [1], mandatory: false, awaited: true)
        tracker.acknowledged(tag: 3, multiple: true)
        #expect(tracker.pendingCount == 3)
        tracker.negativelyAcknowledged(tag: 5, multiple: false)
        tracker.acknowledged(tag: 4, multiple: false)
        #expect(tracker.takeResult(for: awaited) == nil)
        tracker.acknowledged(tag: 6, multiple: true)
        #expect(tracker.takeResult(for: awaited) == .confirmed)
        #expect(tracker.takeResult(for: awaited) == nil, "taken once")
        let failures = tracker.takeFailures()
        #expect(failures.map(\.kind) == [.publishNacked])
        #expect(tracker.takeFailures().isEmpty)
        #expect(!tracker.hasPending)
    }

    @Test("a return marks the oldest matching mandatory publish, whose ack then fails")
    func returnMatching() {
        var tracker = AMQPConfirmTracker()
        tracker.enable()
        let plain = tracker.published(exchange: "x", routingKey: "k", body: [1], mandatory: false, awaited: true)
        let other = tracker.published(exchange: "x", routingKey: "k", body: [2], mandatory: true, awaited: true)
        let target = tracker.published(exchange: "x", routingKey: "k", body: [1], mandatory: true, awaited: true)
        let unmatched = tracker.returned(
            exchange: "x", routingKey: "other", body: [1], replyCode: 312, replyText: "NO_ROUTE")
        #expect(!unmatched)
        let matched = tracker.returned(exchange: "x", routingKey: "k", body: [1], replyCode: 312, replyText: "NO_ROUTE")
        #expect(matched)
        tracker.acknowledged(tag: target, multiple: true)
        #expect(tracker.takeResult(for: plain) == .confirmed)
        #expect(tracker.takeResult(for: other) == .confirmed)
        guard case .failed(let error)? = tracker.takeResult(for: target) else {
            Issue.record("the returned publish was not failed")
            return
        }
        #expect(error.kind == .unroutable)
        #expect(error.replyCode == 312)
        #expect(error.message.contains("NO_ROUTE"))
    }

    @Test("a closed channel fails what is pending and restarts the numbering")
    func channelClosed() {
        var tracker = AMQPConfirmTracker()
        tracker.enable()
        _ = tracker.published(exchange: "", routingKey: "a", body: [], mandatory: false, awaited: false)
        let awaited = tracker.published(exchange: "", routingKey: "b", body: [], mandatory: false, awaited: true)
        tracker.stopAwaiting(awaited)
        tracker.channelClosed(AMQPError(kind: .channelClosed, message: "404"))
        #expect(tracker.takeFailures().count == 2, "an abandoned wait counts as unawaited")
        #expect(!tracker.hasPending)
        tracker.enable()
        #expect(tracker.published(exchange: "", routingKey: "a", body: [], mandatory: false, awaited: false) == 1)
    }
}
