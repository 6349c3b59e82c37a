/// The mutable state of an exec handler's pool, behind the handler's mutex.
struct ExecPoolState: Sendable {
    /// One entry per process of the pool.
    var slots: [ExecSlotState]
    /// Calls waiting for a process with room, oldest first.
    var waiters = FIFOQueue<ExecRequest>()
    /// The program to run, set by `start()`.
    var executable: String?
    /// `start()` succeeded.
    var started = false
    /// `shutdown()` was called: no new requests, no restarts.
    var shuttingDown = false
    /// When children still running at shutdown are killed.
    var shutdownDeadline: ContinuousClock.Instant?
    /// Why the last process ended, for the reason given to calls that found none running.
    var lastFailure: String?
    /// The next request serial number.
    var nextSerial: UInt64 = 0

    /// Creates the state of a pool of `processes` slots.
    init(processes: Int) {
        slots = Array(repeating: ExecSlotState(), count: processes)
    }

    /// The number of slots with a running child.
    var liveCount: Int {
        slots.reduce(0) { $0 + ($1.child == nil ? 0 : 1) }
    }

    /// The running slot with the fewest requests in flight, if one has room under `limit`.
    func leastLoadedSlot(limit: Int) -> Int? {
        var best: Int?
        for index in slots.indices where slots[index].hasRoom(limit: limit) {
            if best == nil || slots[index].load < slots[best!].load { best = index }
        }
        return best
    }

    /// Gives slot `index` its next work: its next suspect once it is idle while it has
    /// suspects, else waiting requests while it has room. Each times out `timeout` after
    /// `now`.
    mutating func feed(
        slot index: Int, now: ContinuousClock.Instant, timeout: Duration, limit: Int
    ) -> ExecSendEffects {
        if slots[index].isolating {
            return slots[index].sendNextSuspect(now: now, timeout: timeout) ?? ExecSendEffects()
        }
        return assignWaiters(to: index, now: now, timeout: timeout, limit: limit)
    }

    /// Hands waiting requests to slot `index` while it has room; each times out `timeout`
    /// after `now`.
    mutating func assignWaiters(
        to index: Int, now: ContinuousClock.Instant, timeout: Duration, limit: Int
    ) -> ExecSendEffects {
        var effects = ExecSendEffects()
        while !waiters.isEmpty && slots[index].hasRoom(limit: limit), let request = waiters.popFirst() {
            effects.merge(slots[index].send(request, deadline: now + timeout))
        }
        return effects
    }
}
