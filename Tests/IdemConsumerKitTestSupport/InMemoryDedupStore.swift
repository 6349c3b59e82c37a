import IdemConcurrency
import IdemCore
import Synchronization

/// A ``DedupStore`` held in memory, with the row semantics of the PostgreSQL store
/// (claims, attempts, fences, leases, dead rows, offset lanes): consumer logic runs against
/// it in unit tests without a database.
///
/// Transactions are serialized (one at a time), which is stricter than PostgreSQL's row
/// locks and gives the same results. What it cannot do is roll a handler's own effects
/// back: a test handler records its effect only when it returns ``HandlerResult/success``,
/// as a handler writing through the transaction would have it committed. With `keepOrder`,
/// a transient failure ends its lane of the batch there (the effects before it stay, the
/// messages after it in its lane are deferred), which is what the PostgreSQL store's retried
/// transaction commits.
///
/// ``fail(with:)`` makes every call throw until ``recover()``, for outage tests.
public final class InMemoryDedupStore: DedupStore {
    /// The `status` of a row.
    public enum Status: String, Sendable, Hashable {
        case processing, done, failed, dead
    }

    /// One row of `processed_messages`.
    public struct Row: Sendable, Hashable {
        public var status: Status
        public var attempts: Int
        public var fence: Int64
        public var lockedUntil: ContinuousClock.Instant?
        public var payloadHash: String
        public var lastError: String?
        public var source: String
        /// Seconds since the Unix epoch (a counter here: the order rows were created in).
        public var firstSeen: UInt64
        /// A `dead` row whose dead letter the broker confirmed.
        public var deadLetterConfirmed = false
    }

    /// One lane's row in offset mode.
    public struct Lane: Sendable, Hashable {
        public var next: Int64
        public var attempts: Int
        public var dead: Bool
        public var lastError: String?
    }

    private struct Key: Hashable {
        var consumer: String
        var id: String
    }

    private struct LaneKey: Hashable {
        var consumer: String
        var stream: String
        var lane: Int32
    }

    private struct State {
        var rows: [Key: Row] = [:]
        var lanes: [LaneKey: Lane] = [:]
        var failure: DedupStoreError?
        var calls = 0
        var created: UInt64 = 1_700_000_000
    }

    private let state = Mutex(State())
    /// One transaction at a time.
    private let transactions = AsyncSemaphore(permits: 1)

    /// An empty store.
    public init() {}

    /// Every call throws `error` from now on (``DedupStoreError/unavailable(_:)`` for an
    /// outage), until ``recover()``.
    public func fail(with error: DedupStoreError = .unavailable("the in-memory store is down")) {
        state.withLock { $0.failure = error }
    }

    /// Calls succeed again.
    public func recover() {
        state.withLock { $0.failure = nil }
    }

    /// How many calls (round trips) the store answered or refused.
    public var calls: Int { state.withLock { $0.calls } }

    /// The row of `id` for `consumer`, if there is one.
    public func row(consumer: String, id: String) -> Row? {
        state.withLock { $0.rows[Key(consumer: consumer, id: id)] }
    }

    /// The rows of `consumer`, by ID.
    public func rows(consumer: String) -> [String: Row] {
        state.withLock { state in
            var rows: [String: Row] = [:]
            for (key, row) in state.rows where key.consumer == consumer { rows[key.id] = row }
            return rows
        }
    }

    /// Offset mode: the row of `lane` of `stream`, if there is one.
    public func lane(consumer: String, stream: String, lane: Int32) -> Lane? {
        state.withLock { $0.lanes[LaneKey(consumer: consumer, stream: stream, lane: lane)] }
    }

    /// Counts the call; throws the injected failure, if any.
    private func enter() throws(DedupStoreError) {
        let failure = state.withLock { state in
            state.calls += 1
            return state.failure
        }
        if let failure { throw failure }
    }

    // MARK: Claims

    /// Claims `request` as `status` (with a lock until `lockedUntil` for a lease) when the
    /// ID is new, failed, or under an expired lease; otherwise what the row says.
    private static func claim(
        _ state: inout State, consumer: String, _ request: ClaimRequest, status: Status,
        lockedUntil: ContinuousClock.Instant?
    ) -> ClaimResult {
        let key = Key(consumer: consumer, id: request.id.value)
        let now = ContinuousClock.now
        guard var row = state.rows[key] else {
            state.created += 1
            state.rows[key] = Row(
                status: status, attempts: 1, fence: 1, lockedUntil: lockedUntil, payloadHash: request.payloadHash,
                lastError: nil, source: request.source, firstSeen: state.created)
            return .claimed(attempt: 1, fence: 1)
        }
        switch row.status {
        case .done:
            return row.payloadHash == request.payloadHash ? .duplicate : .payloadConflict(storedHash: row.payloadHash)
        case .dead:
            if row.deadLetterConfirmed { return .deadLetterConfirmed }
            return .deadLettered(attempts: row.attempts, lastError: row.lastError ?? "")
        case .processing where (row.lockedUntil ?? now) > now:
            return .held(remaining: row.lockedUntil! - now)
        case .processing, .failed:
            row.status = status
            row.attempts += 1
            row.fence += 1
            row.lockedUntil = lockedUntil
            row.payloadHash = request.payloadHash
            row.source = request.source
            state.rows[key] = row
            return .claimed(attempt: row.attempts, fence: row.fence)
        }
    }

    /// Sets the status of a claimed row (a failure's error with it).
    private func mark(consumer: String, id: MessageID, _ status: Status, error: String?) {
        state.withLock { state in
            let key = Key(consumer: consumer, id: id.value)
            state.rows[key]?.status = status
            state.rows[key]?.lockedUntil = nil
            if let error { state.rows[key]?.lastError = error }
        }
    }

    /// Puts a claimed row back as it was before the claim (a message of an ordered batch
    /// that was not run).
    private func unclaim(consumer: String, id: MessageID, previous: Row?) {
        state.withLock { state in
            state.rows[Key(consumer: consumer, id: id.value)] = previous
        }
    }

    // MARK: Transactional mode

    public func processTransactionally(
        consumer: String, _ requests: [ClaimRequest], maxAttempts: Int, handler: any MessageHandler, keepOrder: Bool
    ) async throws(DedupStoreError) -> [TransactionalOutcome] {
        try enter()
        await transactions.acquire()
        defer { transactions.release() }
        var outcomes = [TransactionalOutcome?](repeating: nil, count: requests.count)
        var claimed: [(index: Int, attempt: Int, fence: Int64, previous: Row?)] = []
        var first: [String: Int] = [:]
        state.withLock { state in
            for (index, request) in requests.enumerated() {
                if let earlier = first[request.id.value] {
                    let stored = requests[earlier].payloadHash
                    outcomes[index] = .notClaimed(
                        stored == request.payloadHash ? .duplicate : .payloadConflict(storedHash: stored))
                    continue
                }
                first[request.id.value] = index
                let previous = state.rows[Key(consumer: consumer, id: request.id.value)]
                switch Self.claim(&state, consumer: consumer, request, status: .done, lockedUntil: nil) {
                case .claimed(let attempt, let fence): claimed.append((index, attempt, fence, previous))
                case let other: outcomes[index] = .notClaimed(other)
                }
            }
        }
        // Keeping order: per lane, where a transient failure stopped it.
        var stoppedAt: [OrderingLane: Int] = [:]
        func isStopped(_ index: Int) -> Bool {
            guard let stop = stoppedAt[requests[index].lane] else { return false }
            return index > stop
        }
        for entry in claimed {
            let request = requests[entry.index]
            if isStopped(entry.index) {
                unclaim(consumer: consumer, id: request.id, previous: entry.previous)
                outcomes[entry.index] = .deferred
                continue
            }
            let context = HandlerContext(
                consumer: consumer, id: request.id, fence: entry.fence, attempt: entry.attempt, transaction: nil)
            let result: HandlerResult
            do {
                result = try await handler.handle(request.message, context: context)
            } catch {
                result = .retry(String(describing: error))
            }
            outcomes[entry.index] = .handled(result, attempt: entry.attempt)
            switch result {
            case .success:
                break
            case .retry(let reason):
                mark(consumer: consumer, id: request.id, entry.attempt >= maxAttempts ? .dead : .failed, error: reason)
                if keepOrder && entry.attempt < maxAttempts && stoppedAt[request.lane] == nil {
                    stoppedAt[request.lane] = entry.index
                }
            case .reject(let reason):
                mark(consumer: consumer, id: request.id, .dead, error: reason)
            }
        }
        // Keeping order: nothing after a failure in its lane is decided in this batch.
        for index in requests.indices where isStopped(index) { outcomes[index] = .deferred }
        return outcomes.map { $0! }
    }

    // MARK: Lease mode

    public func claimLeases(
        consumer: String, _ requests: [ClaimRequest], lease: Duration
    ) async throws(DedupStoreError) -> [ClaimResult] {
        try enter()
        let until = ContinuousClock.now + lease
        return state.withLock { state in
            var first: [String: Int] = [:]
            var results: [ClaimResult] = []
            for (index, request) in requests.enumerated() {
                if let earlier = first[request.id.value] {
                    // A copy in the same batch: a duplicate of the first one (or a conflict).
                    if case .claimed = results[earlier] {
                        let hash = requests[earlier].payloadHash
                        results.append(request.payloadHash == hash ? .duplicate : .payloadConflict(storedHash: hash))
                    } else {
                        results.append(results[earlier])
                    }
                    continue
                }
                first[request.id.value] = index
                results.append(Self.claim(&state, consumer: consumer, request, status: .processing, lockedUntil: until))
            }
            return results
        }
    }

    public func complete(consumer: String, id: MessageID, fence: Int64) async throws(DedupStoreError) -> Bool {
        try await !finishLeases(consumer: consumer, [LeaseOutcome(id: id, fence: fence, status: .done)]).isEmpty
    }

    public func recordFailure(
        consumer: String, id: MessageID, fence: Int64, lastError: String, final: Bool
    ) async throws(DedupStoreError) -> Bool {
        try await !finishLeases(
            consumer: consumer, [LeaseOutcome(id: id, fence: fence, status: final ? .dead : .failed, error: lastError)]
        ).isEmpty
    }

    public func finishLeases(consumer: String, _ outcomes: [LeaseOutcome]) async throws(DedupStoreError) -> Set<String>
    {
        try enter()
        return state.withLock { state in
            var finished: Set<String> = []
            for outcome in outcomes {
                let key = Key(consumer: consumer, id: outcome.id.value)
                guard var row = state.rows[key], row.status == .processing, row.fence == outcome.fence else { continue }
                row.lockedUntil = nil
                switch outcome.status {
                case .done: row.status = .done
                case .failed, .dead:
                    row.status = outcome.status == .dead ? .dead : .failed
                    row.lastError = outcome.error
                case .released:
                    row.status = .failed
                    row.attempts -= 1
                }
                state.rows[key] = row
                finished.insert(outcome.id.value)
            }
            return finished
        }
    }

    public func confirmDeadLetters(consumer: String, ids: [MessageID]) async throws(DedupStoreError) {
        try enter()
        state.withLock { state in
            for id in ids {
                let key = Key(consumer: consumer, id: id.value)
                if state.rows[key]?.status == .dead { state.rows[key]?.deadLetterConfirmed = true }
            }
        }
    }

    public func firstSeen(consumer: String, ids: [MessageID]) async throws(DedupStoreError) -> [String: UInt64] {
        try enter()
        return state.withLock { state in
            var seen: [String: UInt64] = [:]
            for id in ids {
                if let row = state.rows[Key(consumer: consumer, id: id.value)] { seen[id.value] = row.firstSeen }
            }
            return seen
        }
    }

    // MARK: Offset mode

    public func processOffsets(
        consumer: String, _ requests: [ClaimRequest], poison: [Int: PoisonReason], maxAttempts: Int,
        handler: any MessageHandler
    ) async throws(DedupStoreError) -> [TransactionalOutcome] {
        try enter()
        guard let position = requests.first?.message.source.position else {
            if requests.isEmpty { return [] }
            throw .failed("offset mode needs records with a log position")
        }
        await transactions.acquire()
        defer { transactions.release() }
        let key = LaneKey(consumer: consumer, stream: position.stream, lane: position.lane)
        let lane = state.withLock { $0.lanes[key] } ?? Lane(next: -1, attempts: 0, dead: false)
        var outcomes = [TransactionalOutcome](repeating: .deferred, count: requests.count)
        var stored = lane
        var stopped = false
        for (index, request) in requests.enumerated() {
            guard let offset = request.message.source.position?.offset else { continue }
            if offset < lane.next {
                outcomes[index] = .notClaimed(.duplicate)
                continue
            }
            if offset == lane.next && lane.dead {
                outcomes[index] = .notClaimed(.deadLettered(attempts: lane.attempts, lastError: lane.lastError ?? ""))
                stopped = true
                break
            }
            let attempt = offset == lane.next ? lane.attempts + 1 : 1
            if let reason = poison[index] {
                outcomes[index] = .poison(reason)
                stored = Lane(next: offset, attempts: attempt, dead: true, lastError: reason.description)
                stopped = true
                break
            }
            let context = HandlerContext(
                consumer: consumer, id: request.id, fence: 0, attempt: attempt, transaction: nil)
            let result: HandlerResult
            do {
                result = try await handler.handle(request.message, context: context)
            } catch {
                result = .retry(String(describing: error))
            }
            outcomes[index] = .handled(result, attempt: attempt)
            switch result {
            case .success:
                stored = Lane(next: max(stored.next, offset + 1), attempts: 0, dead: false)
                continue
            case .retry(let reason):
                stored = Lane(next: offset, attempts: attempt, dead: attempt >= maxAttempts, lastError: reason)
            case .reject(let reason):
                stored = Lane(next: offset, attempts: attempt, dead: true, lastError: reason)
            }
            stopped = true
            break
        }
        if !stopped, let last = requests.last?.message.source.position?.offset {
            stored = Lane(next: max(lane.next, last + 1), attempts: 0, dead: false)
        }
        state.withLock { $0.lanes[key] = stored }
        return outcomes
    }

    public func releaseDeadOffset(consumer: String, at position: LogPosition) async throws(DedupStoreError) {
        try enter()
        state.withLock { state in
            let key = LaneKey(consumer: consumer, stream: position.stream, lane: position.lane)
            guard let lane = state.lanes[key], lane.dead, lane.next == position.offset else { return }
            state.lanes[key] = Lane(next: position.offset + 1, attempts: 0, dead: false)
        }
    }

    public func storedOffsets(consumer: String, stream: String) async throws(DedupStoreError) -> [Int32: Int64] {
        try enter()
        return state.withLock { state in
            var offsets: [Int32: Int64] = [:]
            for (key, lane) in state.lanes where key.consumer == consumer && key.stream == stream && lane.next >= 0 {
                offsets[key.lane] = lane.next
            }
            return offsets
        }
    }

    public func storeResumeOffset(
        consumer: String, stream: String, lane: Int32, next: Int64
    ) async throws(DedupStoreError) {
        try enter()
        state.withLock { state in
            let key = LaneKey(consumer: consumer, stream: stream, lane: lane)
            let stored = state.lanes[key] ?? Lane(next: -1, attempts: 0, dead: false)
            if next > stored.next { state.lanes[key] = Lane(next: next, attempts: stored.attempts, dead: stored.dead) }
        }
    }

    // MARK: Operations

    public func probe() async throws(DedupStoreError) {
        try enter()
    }

    public func deleteExpired(
        consumer: String, olderThan age: Duration, batchSize: Int
    ) async throws(DedupStoreError) -> Int {
        try enter()
        // Rows carry no update time here: only an age of zero expires them.
        guard age <= .zero else { return 0 }
        return state.withLock { state in
            let expired = state.rows.filter { $0.key.consumer == consumer && [.done, .dead].contains($0.value.status) }
            for key in expired.keys { state.rows[key] = nil }
            return expired.count
        }
    }
}
