import IdemConcurrency

/// The mutable state of one slot of the pool (one child process at a time), kept in the
/// handler's mutex.
struct ExecSlotState: Sendable {
    /// The first restart delay, and the delay after a process that ran fine for
    /// ``stableRun``.
    static let initialBackoff: Duration = .milliseconds(100)
    /// The longest restart delay.
    static let maximumBackoff: Duration = .seconds(5)
    /// How long a process must have run to reset the restart delay.
    static let stableRun: Duration = .seconds(10)

    /// The running child, or `nil` while (re)starting.
    var child: ExecChild?
    /// In-flight requests by ID; a second request with the same ID waits in ``overflow``.
    private var pending: [String: ExecInFlight] = [:]
    private var overflow: [String: [ExecInFlight]] = [:]
    /// Requests in flight (``pending`` plus ``overflow``).
    private(set) var load = 0
    /// In-flight deadlines in send order, i.e. in deadline order; answered ones are
    /// skipped lazily.
    private var deadlines = FIFOQueue<(id: String, serial: UInt64, deadline: ContinuousClock.Instant)>()
    /// Request bytes not yet taken by the writer thread.
    var outbox: [UInt8] = []
    /// A drain job is queued or running on the writer thread.
    var writerScheduled = false
    /// The child's standard input was closed (shutdown): nothing more is written.
    var inputClosed = false
    /// The reader thread waits without a deadline: a new request must wake it.
    var readerIdle = false
    /// The next restart delay.
    private var backoff = Backoff(initial: initialBackoff, maximum: maximumBackoff)
    /// Requests that were in flight together on a process that ended for a reason none of
    /// them can be blamed for alone (an exit, an invalid line): each is run again, alone,
    /// before the slot takes other requests, so that only the one that ends a process
    /// again is failed. Oldest first; each waits at most until its deadline while no
    /// process runs.
    private(set) var suspects = FIFOQueue<ExecRequest>()
    /// The serial of the suspect in flight, alone.
    private var suspectInFlight: UInt64?

    /// Whether the slot is running suspects again, one at a time.
    var isolating: Bool { !suspects.isEmpty || suspectInFlight != nil }

    /// Whether the slot can take one more request under `limit` in flight.
    func hasRoom(limit: Int) -> Bool {
        child != nil && !inputClosed && load < limit && !isolating
    }

    /// Queues `request` to be run again alone (see ``suspects``).
    mutating func suspect(_ request: ExecRequest) {
        suspects.append(request)
    }

    /// Sends the oldest suspect when the process is idle; `nil` when it is busy or none
    /// is left.
    mutating func sendNextSuspect(now: ContinuousClock.Instant, timeout: Duration) -> ExecSendEffects? {
        guard child != nil, !inputClosed, load == 0, let request = suspects.popFirst() else { return nil }
        suspectInFlight = request.serial
        return send(request, deadline: now + timeout)
    }

    /// Removes and returns the suspects whose wait ran out at `now` (oldest first), or all
    /// of them. Suspects are queued in deadline order (each end queues its own with one
    /// deadline, later ends later ones).
    mutating func takeSuspects(expiredAt now: ContinuousClock.Instant? = nil) -> [ExecRequest] {
        guard let now else { return suspects.removeAll() }
        var expired: [ExecRequest] = []
        while let first = suspects.first, first.deadline <= now, let request = suspects.popFirst() {
            expired.append(request)
        }
        return expired
    }

    /// Puts a new child in place, with nothing in flight.
    mutating func install(_ child: ExecChild) {
        self.child = child
        inputClosed = false
        readerIdle = false
        outbox.removeAll(keepingCapacity: true)
    }

    /// Queues `request` for writing and records it as in flight until `deadline`.
    mutating func send(_ request: ExecRequest, deadline: ContinuousClock.Instant) -> ExecSendEffects {
        let entry = ExecInFlight(
            id: request.id, serial: request.serial, line: request.line, deadline: deadline,
            continuation: request.continuation)
        if pending[request.id] == nil {
            pending[request.id] = entry
        } else {
            overflow[request.id, default: []].append(entry)
        }
        load += 1
        deadlines.append((request.id, request.serial, deadline))
        outbox.append(contentsOf: request.line)
        var effects = ExecSendEffects()
        if !writerScheduled {
            writerScheduled = true
            effects.scheduleWriter = true
        }
        if readerIdle {
            readerIdle = false
            effects.wakeReader = true
        }
        return effects
    }

    /// Removes and returns the oldest in-flight request with `id`, or `nil` if none.
    mutating func complete(id: String) -> ExecInFlight? {
        guard let entry = pending.removeValue(forKey: id) else { return nil }
        if entry.serial == suspectInFlight { suspectInFlight = nil }
        if var more = overflow.removeValue(forKey: id), !more.isEmpty {
            pending[id] = more.removeFirst()
            if !more.isEmpty { overflow[id] = more }
        }
        load -= 1
        return entry
    }

    /// The earliest deadline of a request still in flight.
    mutating func earliestDeadline() -> ContinuousClock.Instant? {
        while let front = deadlines.first {
            if isInFlight(id: front.id, serial: front.serial) { return front.deadline }
            _ = deadlines.popFirst()
        }
        return nil
    }

    /// The ID of the oldest in-flight request whose deadline is at or before `now`.
    func firstExpired(at now: ContinuousClock.Instant) -> String? {
        var oldest: ExecInFlight?
        for entry in pending.values where entry.deadline <= now {
            if oldest == nil || entry.serial < oldest!.serial { oldest = entry }
        }
        for more in overflow.values {
            for entry in more where entry.deadline <= now {
                if oldest == nil || entry.serial < oldest!.serial { oldest = entry }
            }
        }
        return oldest?.id
    }

    private func isInFlight(id: String, serial: UInt64) -> Bool {
        if pending[id]?.serial == serial { return true }
        return overflow[id]?.contains { $0.serial == serial } ?? false
    }

    /// Removes the child and returns every request in flight, oldest first (suspects not
    /// yet sent stay).
    mutating func takeAll() -> [ExecInFlight] {
        child = nil
        suspectInFlight = nil
        var all = Array(pending.values)
        for more in overflow.values { all.append(contentsOf: more) }
        all.sort { $0.serial < $1.serial }
        pending = [:]
        overflow = [:]
        load = 0
        _ = deadlines.removeAll()
        outbox = []
        readerIdle = false
        return all
    }

    /// The delay before the next restart; it doubles each time up to
    /// ``maximumBackoff`` and starts over after a process that ran for ``stableRun``.
    mutating func nextRestartDelay(ranFor lifetime: Duration?) -> Duration {
        if let lifetime, lifetime >= Self.stableRun { backoff.reset() }
        return backoff.next()
    }
}
