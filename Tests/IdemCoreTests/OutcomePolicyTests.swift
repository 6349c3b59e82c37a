import IdemConcurrency
import Testing

@testable import IdemCore

/// The outcome table of docs/design.md, row by row: the disposition of each event (each broker
/// adapter's tests check its column).
@Suite("Outcome policy")
struct OutcomePolicyTests {
    let policy = OutcomePolicy(
        retry: RetryPolicy(
            maxAttempts: 3, initialBackoff: .seconds(2), multiplier: 2, maxBackoff: .seconds(60), jitter: 0))

    func decide(_ event: ProcessingEvent, _ policy: OutcomePolicy? = nil) -> Disposition {
        var generator = SplitMix64(seed: 11)
        return (policy ?? self.policy).decide(event, using: &generator)
    }

    @Test func duplicateIsAcked() {
        let disposition = decide(.duplicate)
        #expect(disposition == .acknowledge(.duplicate))
    }

    @Test func successIsAckedAfterCommit() {
        let disposition = decide(.handled(.success, attempt: 1))
        #expect(disposition == .acknowledge(.processed))
    }

    @Test func transientFailureWithAttemptsLeftIsRetriedAfterBackoff() {
        for event in [
            ProcessingEvent.handled(.retry("busy"), attempt: 2), .handlerFailed("timeout after 30s", attempt: 2),
        ] {
            let disposition = decide(event)
            let reason = event == .handled(.retry("busy"), attempt: 2) ? "busy" : "timeout after 30s"
            #expect(disposition == .retry(after: .seconds(4), countsAsAttempt: true, reason: reason))
        }
    }

    @Test func exhaustedAttemptsAreDeadLettered() {
        let disposition = decide(.handled(.retry("still busy"), attempt: 3))
        let reason = DeadLetterReason.attemptsExhausted(attempts: 3, lastError: "still busy")
        #expect(disposition == .deadLetter(reason))
        #expect(reason.code == "attempts-exhausted")
        #expect(reason.attempts == 3)
        #expect(
            decide(.handlerFailed("crash", attempt: 3))
                == .deadLetter(.attemptsExhausted(attempts: 3, lastError: "crash")))
    }

    @Test func permanentFailureIsDeadLetteredAtOnce() {
        let disposition = decide(.handled(.reject("amount is negative"), attempt: 1))
        #expect(disposition == .deadLetter(.rejected("amount is negative", attempt: 1)))
    }

    @Test func poisonIsDeadLettered() {
        for reason in [
            PoisonReason.noIdentity(notes: ["message_id: absent"]), .idTooLong(source: .key, length: 600, limit: 512),
            .bodyTooLarge(size: 10, limit: 5), .undecodable("json:/amount: no member 'amount'"),
        ] {
            let disposition = decide(.poison(reason))
            #expect(disposition == .deadLetter(.poison(reason)))
            #expect(DeadLetterReason.poison(reason).code.hasPrefix("poison:"))
        }
    }

    @Test func postgresUnreachableSuspendsAndAcksNothing() {
        let disposition = decide(.storeUnavailable)
        #expect(disposition == .suspend)
    }

    @Test func payloadConflictFollowsThePolicy() {
        let event = ProcessingEvent.payloadConflict(storedHash: "aa", receivedHash: "bb")
        #expect(decide(event) == .deadLetter(.payloadConflict(storedHash: "aa", receivedHash: "bb")))
        var accepting = policy
        accepting.onPayloadConflict = .acknowledge
        #expect(decide(event, accepting) == .acknowledge(.payloadConflictAccepted))
    }

    @Test func liveLeaseAndDeadlockAreRetriesThatUseNoAttempt() {
        #expect(
            decide(.heldByLiveLease(remaining: .seconds(7)))
                == .retry(after: .seconds(7), countsAsAttempt: false, reason: "the ID is held by a live lease"))
        if case .retry(let delay, let counts, _) = decide(.heldByLiveLease(remaining: nil)) {
            #expect(delay == policy.liveLeaseDelay)
            #expect(!counts)
        } else {
            Issue.record("a live lease must be retried")
        }
        if case .retry(_, let counts, _) = decide(.storeConflict) {
            #expect(!counts)
        } else {
            Issue.record("a deadlock must be retried")
        }
    }

    @Test func deadLetterHeadersText() {
        #expect(
            DeadLetterReason.attemptsExhausted(attempts: 1, lastError: "x").description
                == "1 attempt failed; last error: x")
        #expect(DeadLetterReason.rejected("bad", attempt: 2).description == "bad")
        #expect(DeadLetterReason.poison(.bodyTooLarge(size: 10, limit: 5)).attempts == 0)
    }
}

@Suite("Store outcomes as events")
struct StoreOutcomeEventTests {
    @Test func transactionalOutcomesMapToEvents() {
        #expect(ProcessingEvent(.handled(.success, attempt: 2), receivedHash: "h") == .handled(.success, attempt: 2))
        #expect(ProcessingEvent(.notClaimed(.duplicate), receivedHash: "h") == .duplicate)
        #expect(
            ProcessingEvent(.notClaimed(.payloadConflict(storedHash: "a")), receivedHash: "b")
                == .payloadConflict(storedHash: "a", receivedHash: "b"))
        #expect(
            ProcessingEvent(.notClaimed(.held(remaining: .seconds(3))), receivedHash: "h")
                == .heldByLiveLease(remaining: .seconds(3)))
        #expect(
            ProcessingEvent(.notClaimed(.deadLettered(attempts: 4, lastError: "x")), receivedHash: "h")
                == .alreadyDeadLettered(attempts: 4, lastError: "x"))
        #expect(
            ProcessingEvent(.poison(.bodyTooLarge(size: 2, limit: 1)), receivedHash: "h")
                == .poison(.bodyTooLarge(size: 2, limit: 1)))
        #expect(ProcessingEvent(DedupStoreError.conflict("deadlock")) == .storeConflict)
        #expect(ProcessingEvent(DedupStoreError.unavailable("down")) == .storeUnavailable)
    }

    @Test func aRedeliveredDeadLetterGoesToTheDeadLettersAgain() {
        #expect(
            ProcessingEvent(.notClaimed(.deadLetterConfirmed), receivedHash: "h") == .deadLetterConfirmed)
        #expect(OutcomePolicy().decide(.deadLetterConfirmed) == .acknowledge(.deadLetteredBefore))
        let disposition = OutcomePolicy().decide(.alreadyDeadLettered(attempts: 5, lastError: "boom"))
        #expect(disposition == .deadLetter(.deadLetteredBefore(attempts: 5, lastError: "boom")))
        #expect(DeadLetterReason.deadLetteredBefore(attempts: 5, lastError: "boom").code == "dead-lettered-before")
    }
}
