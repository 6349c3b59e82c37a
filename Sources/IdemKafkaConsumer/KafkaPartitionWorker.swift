import IdemConcurrency
import IdemCore
import IdemKafka
import Logging
import Synchronization

/// Processes the records of one assigned partition, in order, a batch at a time.
///
/// The consumer's poll loop routes records here; the ``KafkaBatchRunner`` takes them a
/// batch at a time, claims and handles each in one transaction that keeps order (a
/// transient failure ends the batch there), produces dead letters and waits for their
/// delivery reports, and then advances the partition's committable offset: the offset
/// below which every record is done. A transient failure (or PostgreSQL being unreachable)
/// is handed back to the poll loop as an event (``KafkaConsumerStateMachine/Event``): the
/// loop pauses the partition, seeks back to the record, and resumes after the backoff, so
/// the record is retried in place and nothing after it runs first.
final class KafkaPartitionWorker: Sendable {
    /// A record with the seek generation it was routed in.
    struct Routed: Sendable {
        var generation: UInt64
        var record: KafkaRecord
    }

    private struct State {
        /// Bumped by the poll loop at each seek; records of earlier generations are stale.
        var generation: UInt64 = 0
        /// Records older than this generation are dropped (set when a retry is requested,
        /// before the loop has seeked).
        var acceptFrom: UInt64 = 0
        /// The next offset to commit: every record below it is done.
        var committable: Int64?
        /// Whether the poll loop paused the partition because its buffer is full.
        var pausedForBackpressure = false
        /// The approximate memory the buffered records take.
        var bufferedBytes = 0
    }

    /// The approximate memory a buffered record takes: its key, value and headers, plus
    /// a fixed overhead.
    static func footprint(_ record: KafkaRecord) -> Int {
        128 + (record.key?.count ?? 0) + (record.value?.count ?? 0)
            + record.headers.reduce(0) { $0 + 32 + $1.key.utf8.count + ($1.value?.count ?? 0) }
    }

    let partition: KafkaTopicPartition
    /// How many records the buffer holds before the poll loop pauses the partition.
    let capacity: Int
    /// How many bytes (``footprint(_:)``) the buffer holds before the poll loop pauses the
    /// partition.
    let byteCapacity: Int
    private let buffer: AsyncBoundedBuffer<Routed>
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(partition: KafkaTopicPartition, capacity: Int, byteCapacity: Int) {
        self.partition = partition
        self.capacity = capacity
        self.byteCapacity = byteCapacity
        // Unbounded in effect: the poll loop pauses the partition past `capacity`, and
        // polls less while all workers together hold their share.
        self.buffer = AsyncBoundedBuffer(capacity: Int.max / 2)
    }

    // MARK: The poll loop's side

    /// The generation records are routed with now.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// Routes records fetched for this partition.
    func route(_ records: [KafkaRecord]) {
        let bytes = records.reduce(0) { $0 + Self.footprint($1) }
        let generation = state.withLock { state in
            state.bufferedBytes += bytes
            return state.generation
        }
        buffer.append(contentsOf: records.map { Routed(generation: generation, record: $0) })
    }

    /// Records routed and not yet taken.
    var buffered: Int { buffer.count }

    /// The approximate memory the records routed and not yet taken take.
    var bufferedBytes: Int { state.withLock { $0.bufferedBytes } }

    /// After a seek: records routed before it are stale.
    func seeked(to generation: UInt64) {
        state.withLock { $0.generation = max($0.generation, generation) }
    }

    /// The next offset to commit, if any record is done.
    var committable: Int64? { state.withLock { $0.committable } }

    /// Whether the buffer is over capacity, in records or bytes (pause), or has room again
    /// (resume), with hysteresis: a paused partition is resumed once half its capacity is
    /// free.
    func backpressure() -> (pause: Bool, resume: Bool) {
        let count = buffer.count
        return state.withLock { state in
            if !state.pausedForBackpressure && (count > capacity || state.bufferedBytes > byteCapacity) {
                state.pausedForBackpressure = true
                return (true, false)
            }
            if state.pausedForBackpressure && count <= capacity / 2 && state.bufferedBytes <= byteCapacity / 2 {
                state.pausedForBackpressure = false
                return (false, true)
            }
            return (false, false)
        }
    }

    /// Starts processing.
    func start(_ body: @escaping @Sendable (KafkaPartitionWorker) async -> Void) {
        task.withLock { $0 = Task { await body(self) } }
    }

    /// Stops taking records and waits for the batch in flight. The records buffered and not
    /// yet taken are dropped: after a revocation the partition's next owner fetches them
    /// again from the committed offset, and a rebalance waits only for the batch in flight.
    func stop() async {
        buffer.finish(discardingRemaining: true)
        state.withLock { $0.bufferedBytes = 0 }
        let running = task.withLock { $0 }
        await running?.value
    }

    // MARK: The worker's side

    /// The next batch of current records: up to `maxCount`, waiting at most `maxWait` for
    /// it to fill, or up to `limit` when more are at hand. Empty once stopped.
    func nextBatch(maxCount: Int, maxWait: Duration, limit: Int? = nil) async -> [KafkaRecord] {
        while true {
            guard let items = try? await buffer.nextBatch(maxCount: maxCount, maxWait: maxWait, limit: limit),
                !items.isEmpty
            else { return [] }
            let bytes = items.reduce(0) { $0 + Self.footprint($1.record) }
            let accept = state.withLock { state in
                state.bufferedBytes -= bytes
                return max(state.generation, state.acceptFrom)
            }
            let current = items.filter { $0.generation >= accept }.map(\.record)
            if !current.isEmpty { return current }
        }
    }

    /// Adds to `records` (a batch taken by ``nextBatch(maxCount:maxWait:limit:)``) the
    /// current records that arrived since, up to `limit` in all, without waiting: a batch
    /// that waited for its turn takes what came meanwhile.
    func topUp(_ records: inout [KafkaRecord], limit: Int) {
        while records.count < limit {
            let items = buffer.takeAvailable(maxCount: limit - records.count)
            guard !items.isEmpty else { return }
            let bytes = items.reduce(0) { $0 + Self.footprint($1.record) }
            let accept = state.withLock { state in
                state.bufferedBytes -= bytes
                return max(state.generation, state.acceptFrom)
            }
            // A seek since the batch was taken makes the whole batch stale; the runner
            // checks the generation of the batch as a whole, so stale records end it here.
            let current = items.prefix { $0.generation >= accept }
            records += current.map(\.record)
            if current.count < items.count { return }
        }
    }

    /// Records that every record below `offset` is done.
    func done(below offset: Int64) {
        state.withLock { $0.committable = offset }
    }

    /// Drops what was routed before the seek the returned generation will carry.
    func awaitSeek() -> UInt64 {
        state.withLock { state in
            state.acceptFrom = max(state.generation, state.acceptFrom) + 1
            return state.acceptFrom
        }
    }
}
