import Foundation

/// One consumer as the admin API lists it (`GET /admin/consumers`, `idem ctl consumers`).
public struct ConsumerSnapshot: Sendable, Hashable {
    /// The consumer's name.
    public var name: String
    /// Its broker's source kind (`amqp`, `kafka`).
    public var broker: String
    /// Where its session is, in `/readyz`'s words (`consuming`, `reconnecting: …`).
    public var state: String
    /// When an operator paused it, or `nil` when it is not paused.
    public var pausedSince: Date?
    /// What it has not processed yet: the sum of its partitions' lag (Kafka) or the
    /// messages ready in its queue (RabbitMQ); `nil` before the broker first reported it.
    public var lag: Int64?
    /// Messages taken from the broker and not settled yet.
    public var inFlight: Int

    /// Creates a snapshot.
    public init(name: String, broker: String, state: String, pausedSince: Date?, lag: Int64?, inFlight: Int) {
        self.name = name
        self.broker = broker
        self.state = state
        self.pausedSince = pausedSince
        self.lag = lag
        self.inFlight = inFlight
    }

    /// Whether an operator paused it.
    public var paused: Bool { pausedSince != nil }
}
