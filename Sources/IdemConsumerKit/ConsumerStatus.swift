import Synchronization

/// What a ``ConsumerSession`` reports while it runs: `/readyz`'s state for the consumer
/// and the reconnect counts, the same for every broker.
public final class ConsumerStatus: Sendable {
    private let consumer: String
    private let kind: String
    private let health: HealthState
    private let metrics: ConsumerMetrics
    private let reconnect: Bool
    private let state = Mutex((connected: false, brokerDown: false, storeDown: false))

    /// The status of one session of `consumer` (a broker of `kind`); `reconnect` says
    /// whether an earlier session of it connected (its connecting counts as a reconnect).
    init(consumer: String, kind: String, health: HealthState, metrics: ConsumerMetrics, reconnect: Bool) {
        self.consumer = consumer
        self.kind = kind
        self.health = health
        self.metrics = metrics
        self.reconnect = reconnect
    }

    /// Whether the session reported ``connected()``.
    public var didConnect: Bool { state.withLock { $0.connected } }

    /// The session connected and takes messages.
    public func connected() {
        let first = state.withLock { state in
            defer { state.connected = true }
            return !state.connected
        }
        guard first else { return }
        if reconnect { metrics.reconnected(kind) }
        health.set(consumer, .consuming)
    }

    /// The session paused every message source of the consumer: the dedup store is away
    /// (it keeps its broker connection meanwhile).
    public func storePaused() {
        state.withLock { $0.storeDown = true }
        health.set(consumer, .paused("PostgreSQL unavailable"))
    }

    /// The dedup store answers again; the session resumed.
    public func storeResumed() {
        let brokerDown = state.withLock { state in
            state.storeDown = false
            return state.brokerDown
        }
        if !brokerDown { health.set(consumer, .consuming) }
    }

    /// The broker client lost every broker and reconnects by itself, for `reason`; the
    /// session goes on.
    public func brokerLost(_ reason: String) {
        state.withLock { $0.brokerDown = true }
        health.set(consumer, .reconnecting(reason))
    }

    /// A broker answers again.
    public func brokerBack() {
        let storeDown = state.withLock { state in
            state.brokerDown = false
            return state.storeDown
        }
        metrics.reconnected(kind)
        if !storeDown { health.set(consumer, .consuming) }
    }
}
