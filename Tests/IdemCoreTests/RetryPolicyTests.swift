import IdemConcurrency
import Testing

@testable import IdemCore

@Suite("Retry policy")
struct RetryPolicyTests {
    let policy = RetryPolicy(
        maxAttempts: 5, initialBackoff: .seconds(1), multiplier: 2, maxBackoff: .seconds(10), jitter: 0.25)

    @Test func baseBackoffGrowsExponentiallyUpToTheCap() {
        let bases = (1...6).map { policy.baseBackoff(afterAttempt: $0) }
        #expect(bases == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10)])
    }

    @Test func jitterStaysWithinItsRangeAndTheCap() {
        var generator = SplitMix64(seed: 7)
        for attempt in 1...8 {
            let base = policy.baseBackoff(afterAttempt: attempt).seconds
            var seen: [Double] = []
            for _ in 0..<2000 {
                let delay = policy.backoff(afterAttempt: attempt, using: &generator).seconds
                #expect(delay >= base * 0.75 - 1e-9)
                #expect(delay <= min(10, base * 1.25) + 1e-9)
                seen.append(delay)
            }
            // The jitter really spreads: both ends of the range are approached.
            #expect(seen.min()! < base * 0.80)
            if base * 1.25 <= 10 { #expect(seen.max()! > base * 1.20) }
        }
    }

    @Test func noJitterIsExact() {
        let exact = RetryPolicy(
            maxAttempts: 3, initialBackoff: .milliseconds(200), multiplier: 3, maxBackoff: .seconds(60), jitter: 0)
        var generator = SplitMix64(seed: 1)
        #expect(exact.backoff(afterAttempt: 1, using: &generator) == .milliseconds(200))
        #expect(exact.backoff(afterAttempt: 3, using: &generator) == .milliseconds(1800))
    }

    @Test func hugeAttemptNumbersStayAtTheCap() {
        #expect(policy.baseBackoff(afterAttempt: 10_000) == .seconds(10))
        var generator = SplitMix64(seed: 3)
        #expect(policy.backoff(afterAttempt: Int.max, using: &generator) <= .seconds(10))
    }

    @Test func maxAttemptsCountsTheFirstDelivery() {
        #expect(policy.hasAttemptsLeft(after: 4))
        #expect(!policy.hasAttemptsLeft(after: 5))
        let once = RetryPolicy(
            maxAttempts: 1, initialBackoff: .seconds(1), multiplier: 2, maxBackoff: .seconds(1), jitter: 0)
        #expect(!once.hasAttemptsLeft(after: 1))
    }

    @Test func invalidValuesAreClamped() {
        let clamped = RetryPolicy(
            maxAttempts: 0, initialBackoff: .seconds(5), multiplier: 0.5, maxBackoff: .seconds(1), jitter: 3)
        #expect(clamped.maxAttempts == 1)
        #expect(clamped.multiplier == 1)
        #expect(clamped.maxBackoff == .seconds(5))
        #expect(clamped.jitter == 1)
    }
}
