import IdemConsumerKit

/// What `idem stats` shows for one consumer: its rows in the dedup table and what the fleet
/// of workers did with its messages lately.
public struct ConsumerStatistics: Sendable, Hashable {
    /// Messages counted over a span of time, from the per-minute counts (`<table>_stats`)
    /// that every worker adds to.
    public struct Activity: Sendable, Hashable {
        /// Messages taken from the broker.
        public var received: Int64
        /// Messages whose effect happened.
        public var processed: Int64
        /// Redeliveries of messages already handled, acknowledged without effect.
        public var duplicates: Int64
        /// Transient failures sent to be tried again.
        public var retried: Int64
        /// Messages dead-lettered.
        public var deadLettered: Int64
        /// Duplicates whose body differed from the first copy's.
        public var payloadConflicts: Int64

        /// Counts, all zero by default.
        public init(
            received: Int64 = 0, processed: Int64 = 0, duplicates: Int64 = 0, retried: Int64 = 0,
            deadLettered: Int64 = 0, payloadConflicts: Int64 = 0
        ) {
            self.received = received
            self.processed = processed
            self.duplicates = duplicates
            self.retried = retried
            self.deadLettered = deadLettered
            self.payloadConflicts = payloadConflicts
        }
    }

    /// The consumer's name.
    public var consumer: String
    /// Rows by status; every status is present, zero when there are none.
    public var rows: [DedupRowStatus: Int]
    /// When the oldest row was first seen (UTC, ISO 8601 to the second), if there is a row.
    public var oldestFirstSeen: String?
    /// How long ago the oldest row was first seen, in seconds.
    public var oldestAgeSeconds: Double?
    /// The last hour: the per-minute counts of minutes that began at most an hour ago.
    public var lastHour: Activity

    /// Statistics with the given values.
    public init(
        consumer: String, rows: [DedupRowStatus: Int], oldestFirstSeen: String?, oldestAgeSeconds: Double?,
        lastHour: Activity
    ) {
        self.consumer = consumer
        self.rows = rows
        self.oldestFirstSeen = oldestFirstSeen
        self.oldestAgeSeconds = oldestAgeSeconds
        self.lastHour = lastHour
    }

    /// Rows of every status.
    public var totalRows: Int { rows.values.reduce(0, +) }
}
