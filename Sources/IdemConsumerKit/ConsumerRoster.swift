/// The consumers of a running worker, for the admin API: each one's state, lag and
/// ``ConsumerControl``.
public struct ConsumerRoster: Sendable {
    /// One consumer.
    public struct Entry: Sendable {
        /// The consumer's name.
        public var name: String
        /// Its broker's source kind.
        public var broker: String
        /// Its pause switch.
        public var control: ConsumerControl
        /// Its metrics, which hold its lag and messages in flight.
        public var metrics: ConsumerMetrics

        /// Creates an entry.
        public init(name: String, broker: String, control: ConsumerControl, metrics: ConsumerMetrics) {
            self.name = name
            self.broker = broker
            self.control = control
            self.metrics = metrics
        }
    }

    /// The consumers, in configuration order.
    public let entries: [Entry]
    private let health: HealthState

    /// The roster of `entries`, whose states `health` holds.
    public init(entries: [Entry], health: HealthState) {
        self.entries = entries
        self.health = health
    }

    /// The consumer named `name`, if there is one.
    public func entry(named name: String) -> Entry? {
        entries.first { $0.name == name }
    }

    /// Every consumer as it is now.
    public func snapshot() -> [ConsumerSnapshot] {
        entries.map(snapshot)
    }

    /// `entry` as it is now.
    public func snapshot(_ entry: Entry) -> ConsumerSnapshot {
        ConsumerSnapshot(
            name: entry.name, broker: entry.broker, state: health.state(of: entry.name)?.description ?? "unknown",
            pausedSince: entry.control.pausedSince, lag: entry.metrics.lag, inFlight: entry.metrics.messagesInFlight)
    }
}
