/// Exponential backoff: the delays between attempts at something that fails (a broker
/// connection, PostgreSQL, a crashed child process), doubling from `initial` up to
/// `maximum`, and starting over after a success (``reset()``).
///
/// ```swift
/// var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(30))
/// while true {
///     do { try await connect(); backoff.reset(); break }
///     catch { try await Task.sleep(for: backoff.next()) }
/// }
/// ```
public struct Backoff: Sendable, Hashable {
    /// The first delay, and the one after a ``reset()``.
    public let initial: Duration
    /// The longest delay.
    public let maximum: Duration
    /// The delay ``next()`` returns next.
    public private(set) var current: Duration

    /// A backoff from `initial` doubling up to `maximum` (at least `initial`).
    public init(initial: Duration, maximum: Duration) {
        precondition(initial > .zero, "a backoff starts above zero")
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.current = initial
    }

    /// The delay to wait now; the one after it is twice as long, up to ``maximum``.
    public mutating func next() -> Duration {
        let delay = current
        current = min(current * 2, maximum)
        return delay
    }

    /// Starts over at ``initial``: the thing backed off from worked again.
    public mutating func reset() {
        current = initial
    }
}
