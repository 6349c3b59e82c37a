import IdemCore
import Testing

@testable import IdemAMQPConsumer

/// The RabbitMQ column of docs/design.md's outcome table: what the adapter does with each
/// disposition of the outcome policy.
@Suite("RabbitMQ actions")
struct AMQPActionTests {
    let policy = OutcomePolicy(
        retry: RetryPolicy(
            maxAttempts: 3, initialBackoff: .seconds(2), multiplier: 2, maxBackoff: .seconds(60), jitter: 0))

    @Test("processed and duplicate messages are acked")
    func acks() {
        for event in [ProcessingEvent.duplicate, .handled(.success, attempt: 1)] {
            #expect(AMQPAction(policy.decide(event), delayQueues: true) == .ack)
            #expect(AMQPAction(policy.decide(event), delayQueues: false) == .ack)
        }
    }

    @Test("a retry goes to a delay queue when there are delay queues, otherwise it is nack-requeued")
    func retries() {
        let disposition = policy.decide(.handled(.retry("busy"), attempt: 2))
        #expect(AMQPAction(disposition, delayQueues: true) == .publishToDelayQueue(delay: .seconds(4)))
        #expect(AMQPAction(disposition, delayQueues: false) == .nackRequeue)
        #expect(AMQPAction(disposition, retry: .inPlace) == .retryInPlace(delay: .seconds(4)))
        #expect(AMQPAction(policy.decide(.duplicate), retry: .inPlace) == .ack)
    }

    @Test("every dead-letter reason is published to the dead letters, then acked")
    func deadLetters() {
        let events: [(ProcessingEvent, DeadLetterReason)] = [
            (.handled(.retry("boom"), attempt: 3), .attemptsExhausted(attempts: 3, lastError: "boom")),
            (.handled(.reject("negative"), attempt: 1), .rejected("negative", attempt: 1)),
            (.poison(.bodyTooLarge(size: 9, limit: 8)), .poison(.bodyTooLarge(size: 9, limit: 8))),
            (.alreadyDeadLettered(attempts: 5, lastError: "x"), .deadLetteredBefore(attempts: 5, lastError: "x")),
        ]
        for (event, reason) in events {
            #expect(AMQPAction(policy.decide(event), delayQueues: true) == .publishToDeadLetterThenAck(reason))
        }
    }

    @Test("an unreachable store withholds the acks and pauses")
    func storeUnavailable() {
        #expect(AMQPAction(policy.decide(.storeUnavailable), delayQueues: true) == .withholdAndPause)
    }
}
