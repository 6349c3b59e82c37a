import IdemCore

/// A consumer's dedup mode and the settings that go with it.
public struct DedupSettings: Sendable, Hashable {
    /// Transactional (the default) or lease.
    public var mode: DedupMode
    /// Lease mode: how long a claim holds the ID before another worker may take it over.
    public var lease: Duration
    /// What to do with a duplicate whose body differs.
    public var onPayloadConflict: PayloadConflictAction
    /// How long processed rows are kept; it must outlast the broker's redelivery horizon.
    public var retention: Duration

    /// Creates settings; defaults: transactional, 30 s lease, dead-letter conflicts, 7 days.
    public init(
        mode: DedupMode = .transactional, lease: Duration = .seconds(30),
        onPayloadConflict: PayloadConflictAction = .deadLetter, retention: Duration = .seconds(7 * 86400)
    ) {
        self.mode = mode
        self.lease = lease
        self.onPayloadConflict = onPayloadConflict
        self.retention = retention
    }
}
