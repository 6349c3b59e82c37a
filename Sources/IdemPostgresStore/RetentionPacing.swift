import IdemConsumerKit

/// How a batched delete shares its PostgreSQL connection with the work around it.
public enum RetentionPacing: Sendable, Hashable {
    /// Batch after batch without a pause: a one-off `idem purge`.
    case continuous
    /// After each full batch (more rows are waiting), a pause as long as the batch took,
    /// from 10 ms to 1 s: a sweep takes at most about half of a connection's time, and the
    /// pool's other callers get it between batches.
    case shared

    /// The pause after a full batch that took `elapsed`.
    public func pause(after elapsed: Duration) -> Duration {
        switch self {
        case .continuous: return .zero
        case .shared: return min(max(elapsed, .milliseconds(10)), .seconds(1))
        }
    }
}
