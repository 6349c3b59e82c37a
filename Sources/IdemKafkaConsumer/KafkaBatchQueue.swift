import IdemKafka
import Synchronization

/// The partition workers' batches waiting for a turn (one of `concurrency` dedup
/// transactions in flight), and the turns themselves.
///
/// A turn takes every batch waiting, in the order they came, up to `maxRecords` records
/// and `maxBatches` batches, and runs them as one transaction: under load the partitions'
/// small batches become one large one, so the store sees fewer, larger transactions. Each
/// worker has at most one batch queued or running, so the order of a partition is kept.
final class KafkaBatchQueue: Sendable {
    /// One worker's batch and the worker waiting for it to be settled.
    struct Entry: Sendable {
        var worker: KafkaPartitionWorker
        var records: [KafkaRecord]
        /// Called once the batch is settled: the worker takes its next batch.
        var settled: @Sendable () -> Void
    }

    private struct State {
        var freeTurns: Int
        var waiting: [Entry] = []
    }

    /// The most records a turn takes (more when its first batch alone is larger).
    let maxRecords: Int
    /// The most batches a turn takes: 1 where a transaction must hold one partition.
    let maxBatches: Int
    private let state: Mutex<State>

    /// A queue with `turns` turns at a time.
    init(turns: Int, maxRecords: Int, maxBatches: Int) {
        self.maxRecords = maxRecords
        self.maxBatches = max(1, maxBatches)
        self.state = Mutex(State(freeTurns: max(1, turns)))
    }

    /// Queues `entry`; when a turn is free, takes it and returns the batches it runs (the
    /// caller runs them, then asks for ``next()``).
    func submit(_ entry: Entry) -> [Entry]? {
        state.withLock { state in
            state.waiting.append(entry)
            guard state.freeTurns > 0 else { return nil }
            state.freeTurns -= 1
            return take(&state)
        }
    }

    /// After a turn's batches are settled: the next batches of the same turn, or `nil` when
    /// none wait (the turn is free again).
    func next() -> [Entry]? {
        state.withLock { state in
            guard !state.waiting.isEmpty else {
                state.freeTurns += 1
                return nil
            }
            return take(&state)
        }
    }

    private func take(_ state: inout State) -> [Entry] {
        var count = 0
        var taken = 0
        for entry in state.waiting {
            if taken > 0 && (taken == maxBatches || count + entry.records.count > maxRecords) { break }
            count += entry.records.count
            taken += 1
        }
        defer { state.waiting.removeFirst(taken) }
        return Array(state.waiting.prefix(taken))
    }
}
