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
    /// How often the retention sweeper looks for expired rows.
    public var sweepInterval: Duration
    /// The most rows one sweeper statement deletes, so that no lock is held long.
    public var sweepBatch: Int

    /// Creates settings; defaults: transactional, 30 s lease, dead-letter conflicts, 7 days
    /// of retention swept every minute in batches of 1,000 rows.
    public init(
        mode: DedupMode = .transactional, lease: Duration = .seconds(30),
        onPayloadConflict: PayloadConflictAction = .deadLetter, retention: Duration = .seconds(7 * 86400),
        sweepInterval: Duration = .seconds(60), sweepBatch: Int = 1000
    ) {
        self.mode = mode
        self.lease = lease
        self.onPayloadConflict = onPayloadConflict
        self.retention = retention
        self.sweepInterval = sweepInterval
        self.sweepBatch = sweepBatch
    }
}
