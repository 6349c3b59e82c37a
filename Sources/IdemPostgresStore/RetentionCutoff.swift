import IdemConsumerKit

/// The instant before which rows count as expired, taken once from PostgreSQL's clock at the
/// start of a sweep or purge, so that every batch of it deletes by the same line and the
/// clocks of the workers do not matter.
public struct RetentionCutoff: Sendable, Hashable, CustomStringConvertible {
    /// UTC, ISO 8601 with microseconds (`2026-05-01T12:00:00.000000Z`).
    public let timestamp: String

    /// A cutoff at `timestamp` (UTC, ISO 8601).
    public init(timestamp: String) {
        self.timestamp = timestamp
    }

    /// The timestamp.
    public var description: String { timestamp }
}
