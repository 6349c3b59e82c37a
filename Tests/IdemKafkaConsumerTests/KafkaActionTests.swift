import IdemCore
import Testing

@testable import IdemKafkaConsumer

/// The Kafka column of docs/design.md's outcome table: what the adapter does with each
/// disposition of the outcome policy.
@Suite("Kafka actions")
struct KafkaActionTests {
    let policy = OutcomePolicy(
        retry: RetryPolicy(
            maxAttempts: 3, initialBackoff: .seconds(2), multiplier: 2, maxBackoff: .seconds(60), jitter: 0))

    @Test("processed and duplicate records are marked processed (their offsets commit)")
    func processed() {
        #expect(KafkaAction(policy.decide(.duplicate)) == .markProcessed)
        #expect(KafkaAction(policy.decide(.handled(.success, attempt: 1))) == .markProcessed)
    }

    @Test("a retry pauses the partition and retries the record in place after the backoff")
    func retries() {
        #expect(
            KafkaAction(policy.decide(.handled(.retry("busy"), attempt: 2)))
                == .pauseAndRetryInPlace(delay: .seconds(4)))
    }

    @Test("a dead letter is produced to the dead-letter topic, then the record is marked processed")
    func deadLetters() {
        let reason = DeadLetterReason.attemptsExhausted(attempts: 3, lastError: "boom")
        #expect(
            KafkaAction(policy.decide(.handled(.retry("boom"), attempt: 3)))
                == .produceToDeadLetterThenMarkProcessed(reason))
        #expect(
            KafkaAction(policy.decide(.handled(.reject("negative"), attempt: 1)))
                == .produceToDeadLetterThenMarkProcessed(.rejected("negative", attempt: 1)))
        #expect(
            KafkaAction(policy.decide(.poison(.undecodable("amount"))))
                == .produceToDeadLetterThenMarkProcessed(.poison(.undecodable("amount"))))
    }

    @Test("an unreachable store pauses every partition")
    func storeUnavailable() {
        #expect(KafkaAction(policy.decide(.storeUnavailable)) == .pauseAllAndReconnect)
    }
}
