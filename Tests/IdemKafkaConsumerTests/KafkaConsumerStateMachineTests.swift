import IdemKafka
import Testing

@testable import IdemKafkaConsumer

/// The poll loop's decisions as values: retries in place, the pause while the dedup store
/// is away, resumes that wait for both, commits that only move forward, and offsets left
/// by a failed commit before a revocation.
@Suite("Kafka consumer state machine")
struct KafkaConsumerStateMachineTests {
    typealias Machine = KafkaConsumerStateMachine
    static let p0 = KafkaTopicPartition(topic: "t", partition: 0)
    static let p1 = KafkaTopicPartition(topic: "t", partition: 1)
    let start = ContinuousClock.now

    func assigned(_ partitions: [KafkaTopicPartition] = [p0, p1]) -> Machine {
        var machine = Machine()
        _ = machine.assign(partitions)
        return machine
    }

    @Test func aRetrySeeksBackAndResumesAfterTheDelay() {
        var machine = assigned()
        let actions = machine.handle(.retry(Self.p0, offset: 7, delay: .seconds(2), generation: 3), now: start)
        #expect(actions == [.seek(Self.p0, offset: 7, generation: 3)])
        #expect(machine.resumeDue(now: start + .seconds(1)).isEmpty)
        #expect(machine.mayResume([Self.p0, Self.p1]) == [Self.p1], "back-pressure does not resume a retry early")
        #expect(machine.resumeDue(now: start + .seconds(2)) == [Self.p0])
        #expect(machine.resumeDue(now: start + .seconds(3)).isEmpty, "resumed once")
    }

    @Test func aRetryOfAPartitionNoLongerAssignedIsDropped() {
        var machine = assigned([Self.p1])
        #expect(machine.handle(.retry(Self.p0, offset: 7, delay: .zero, generation: 1), now: start).isEmpty)
        #expect(machine.resumeDue(now: start + .seconds(1)).isEmpty)
    }

    @Test func theStoreAwayPausesEveryPartitionOnceUntilItAnswers() {
        var machine = assigned()
        let first = machine.handle(.storeUnavailable(Self.p0, offset: 4, generation: 1), now: start)
        #expect(first == [.seek(Self.p0, offset: 4, generation: 1), .storeLost, .pause([Self.p0, Self.p1])])
        let second = machine.handle(.storeUnavailable(Self.p1, offset: 9, generation: 1), now: start)
        #expect(second == [.seek(Self.p1, offset: 9, generation: 1)], "paused and probing already")
        #expect(machine.storeDown)
        #expect(machine.mayResume([Self.p0, Self.p1]).isEmpty)
        #expect(machine.assign([KafkaTopicPartition(topic: "t", partition: 2)]).pause.count == 1)
        let back = machine.handle(.storeAnswered, now: start)
        #expect(back == [.storeBack, .resume([Self.p0, Self.p1, KafkaTopicPartition(topic: "t", partition: 2)])])
        #expect(machine.handle(.storeAnswered, now: start).isEmpty, "answered once")
    }

    @Test func anOperatorPauseHoldsEveryPartitionUntilResumed() {
        var machine = assigned()
        #expect(machine.handle(.operatorPaused, now: start) == [.pause([Self.p0, Self.p1])])
        #expect(machine.handle(.operatorPaused, now: start).isEmpty, "paused once")
        #expect(machine.mayResume([Self.p0, Self.p1]).isEmpty, "back-pressure does not resume a paused consumer")
        let p2 = KafkaTopicPartition(topic: "t", partition: 2)
        #expect(machine.assign([p2]).pause == [p2], "a partition assigned while paused starts paused")
        _ = machine.handle(.retry(Self.p0, offset: 3, delay: .seconds(1), generation: 1), now: start)
        #expect(machine.resumeDue(now: start + .seconds(2)).isEmpty, "a retry's end does not resume it either")
        #expect(machine.handle(.operatorResumed, now: start + .seconds(2)) == [.resume([Self.p1, p2])])
        #expect(machine.resumeDue(now: start + .seconds(2)) == [Self.p0], "the retry resumes on its own schedule")
        #expect(machine.handle(.operatorResumed, now: start).isEmpty, "resumed once")
    }

    @Test func theStoresReturnDoesNotUndoAnOperatorPauseNorTheResumeTheStorePause() {
        var machine = assigned()
        _ = machine.handle(.operatorPaused, now: start)
        _ = machine.handle(.storeUnavailable(Self.p0, offset: 1, generation: 1), now: start)
        #expect(machine.handle(.storeAnswered, now: start) == [.storeBack], "still paused by the operator")
        _ = machine.handle(.storeUnavailable(Self.p1, offset: 1, generation: 1), now: start)
        #expect(machine.handle(.operatorResumed, now: start).isEmpty, "still paused while the store is away")
        #expect(machine.handle(.storeAnswered, now: start) == [.storeBack, .resume([Self.p0, Self.p1])])
    }

    @Test func thePartitionWaitingOutARetryStaysPausedWhenTheStoreReturns() {
        var machine = assigned()
        _ = machine.handle(.retry(Self.p0, offset: 1, delay: .seconds(5), generation: 1), now: start)
        _ = machine.handle(.storeUnavailable(Self.p1, offset: 2, generation: 1), now: start)
        #expect(machine.resumeDue(now: start + .seconds(6)).isEmpty, "nothing resumes while the store is away")
        #expect(machine.handle(.storeAnswered, now: start + .seconds(1)) == [.storeBack, .resume([Self.p1])])
        #expect(machine.resumeDue(now: start + .seconds(6)) == [Self.p0])
    }

    @Test func regularCommitsSendOnlyOffsetsThatMoved() {
        var machine = assigned()
        let first = machine.commits(done: [Self.p0: 10, Self.p1: 5], waiting: false)
        #expect(first.map(\.offset) == [10, 5])
        machine.didCommit(first)
        #expect(machine.commits(done: [Self.p0: 10, Self.p1: 6], waiting: false).map(\.offset) == [6])
        #expect(machine.commits(done: [Self.p0: 10, Self.p1: 5], waiting: true).count == 2, "waiting sends all")
    }

    @Test func offsetsAFailedCommitLeftAreCommittedWhenThePartitionComesBack() {
        var machine = assigned()
        machine.didCommit(machine.commits(done: [Self.p0: 10], waiting: false))
        machine.revoke([Self.p0, Self.p1], done: [Self.p0: 12, Self.p1: 3])
        #expect(machine.assigned.isEmpty)
        #expect(machine.committed.isEmpty)
        let again = machine.assign([Self.p0])
        #expect(again.leftovers == [Self.p0: 12])
        #expect(machine.assign([Self.p1]).leftovers == [Self.p1: 3])
        #expect(machine.assign([Self.p0]).leftovers.isEmpty, "handed over once")
    }

    @Test func aRevocationForgetsTheRetryBackoff() {
        var machine = assigned()
        _ = machine.handle(.retry(Self.p0, offset: 1, delay: .seconds(1), generation: 1), now: start)
        machine.revoke([Self.p0], done: [:])
        _ = machine.assign([Self.p0])
        #expect(machine.resumeDue(now: start + .seconds(2)).isEmpty)
        #expect(machine.mayResume([Self.p0]) == [Self.p0])
    }

    @Test func brokerReachabilityReportsChangesOnly() {
        var machine = Machine()
        #expect(machine.brokers(reachable: true) == false)
        #expect(machine.brokers(reachable: false) == true)
        #expect(machine.brokers(reachable: false) == false)
        #expect(machine.brokersDown)
        #expect(machine.brokers(reachable: true) == true)
    }
}
