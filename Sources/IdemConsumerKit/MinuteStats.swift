import Foundation
import Synchronization

/// Per-minute counts of every consumer of the process, kept until ``StatsFlusher`` adds
/// them to the stats table that `idem stats` reads (so that it sees the whole fleet of
/// workers, where each process's metrics see one).
public final class MinuteStats: Sendable {
    /// One consumer's counts in one minute.
    public struct Entry: Sendable, Hashable {
        /// The consumer.
        public var consumer: String
        /// The minute's start, in seconds since the Unix epoch.
        public var minute: Int64
        /// Its counts.
        public var tally: DecisionTally
    }

    private struct Key: Hashable {
        var consumer: String
        var minute: Int64
    }

    private let pending = Mutex<[Key: DecisionTally]>([:])
    private let clock: @Sendable () -> Int64

    /// Creates an empty collection; `clock` gives the time in seconds since the Unix epoch.
    public init(clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.clock = clock
    }

    /// Adds `tally` to `consumer`'s counts of the current minute.
    public func add(consumer: String, _ tally: DecisionTally) {
        guard tally.received > 0 else { return }
        let key = Key(consumer: consumer, minute: clock() / 60 * 60)
        pending.withLock { $0[key, default: DecisionTally()].add(tally) }
    }

    /// Takes every pending count out, to be written.
    public func drain() -> [Entry] {
        pending.withLock { pending in
            defer { pending.removeAll() }
            return pending.map { Entry(consumer: $0.key.consumer, minute: $0.key.minute, tally: $0.value) }
        }
    }

    /// Puts back counts that could not be written, to go with the next write.
    public func restore(_ entries: [Entry]) {
        pending.withLock { pending in
            for entry in entries {
                pending[Key(consumer: entry.consumer, minute: entry.minute), default: DecisionTally()].add(entry.tally)
            }
        }
    }
}
