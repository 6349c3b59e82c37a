/// How often and how soon a transiently failing message is tried again.
///
/// The delay before attempt `n + 1` is `initialBackoff × multiplier^(n-1)`, capped at
/// `maxBackoff`, then spread by ±`jitter` (a fraction) so that a burst of failures does not
/// come back as a burst, and capped again.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first delivery included; at least 1.
    public var maxAttempts: Int
    /// The delay after the first failed attempt.
    public var initialBackoff: Duration
    /// The growth factor from one delay to the next; at least 1.
    public var multiplier: Double
    /// The longest delay.
    public var maxBackoff: Duration
    /// The spread of each delay as a fraction of it, in `0...1`.
    public var jitter: Double

    /// The defaults: 5 attempts, 1 s doubling up to 5 min, ±20 % jitter.
    public static let `default` = RetryPolicy(
        maxAttempts: 5, initialBackoff: .seconds(1), multiplier: 2, maxBackoff: .seconds(300),
        jitter: 0.2)

    /// Creates a policy; the values are clamped into their valid ranges.
    public init(
        maxAttempts: Int, initialBackoff: Duration, multiplier: Double, maxBackoff: Duration,
        jitter: Double
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = max(.zero, initialBackoff)
        self.multiplier = multiplier.isFinite ? max(1, multiplier) : 1
        self.maxBackoff = max(self.initialBackoff, maxBackoff)
        self.jitter = jitter.isFinite ? min(1, max(0, jitter)) : 0
    }

    /// Whether a message whose attempt number `attempt` (1-based) has just failed may be
    /// tried again.
    public func hasAttemptsLeft(after attempt: Int) -> Bool {
        attempt < maxAttempts
    }

    /// The delay before the base is spread by jitter: `initial × multiplier^(attempt-1)`,
    /// capped.
    public func baseBackoff(afterAttempt attempt: Int) -> Duration {
        let seconds = initialBackoff.seconds * integerPower(multiplier, max(0, attempt - 1))
        guard seconds.isFinite, seconds < maxBackoff.seconds else { return maxBackoff }
        return .seconds(seconds)
    }

    /// The delay after failed attempt `attempt` (1-based), jitter applied, never above
    /// ``maxBackoff`` and never negative.
    public func backoff(
        afterAttempt attempt: Int, using generator: inout some RandomNumberGenerator
    ) -> Duration {
        let base = baseBackoff(afterAttempt: attempt).seconds
        let spread = jitter > 0 ? Double.random(in: -jitter...jitter, using: &generator) : 0
        let seconds = min(maxBackoff.seconds, max(0, base * (1 + spread)))
        return .seconds(seconds)
    }

    /// The delay after failed attempt `attempt`, with the system's random generator.
    public func backoff(afterAttempt attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return backoff(afterAttempt: attempt, using: &generator)
    }
}

/// `x^y` for a whole, non-negative `y`, by repeated squaring.
@inline(__always)
private func integerPower(_ x: Double, _ y: Int) -> Double {
    var result = 1.0
    var remaining = y
    var base = x
    while remaining > 0 {
        if remaining & 1 == 1 { result *= base }
        base *= base
        remaining >>= 1
        if result.isInfinite || base.isInfinite && remaining > 0 { return .infinity }
    }
    return result
}

extension Duration {
    /// The duration in seconds, as a double.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
