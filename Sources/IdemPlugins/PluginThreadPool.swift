import Dispatch
import IdemConcurrency
import Logging
import Synchronization

/// The dedicated threads that run one plugin's calls, the queue of calls waiting for a free
/// thread, and the watchdog that times calls out.
///
/// Plugin calls are blocking C calls, so they never run on Swift's cooperative thread pool:
/// each of the `threads` workers is a ``ThreadExecutor``. A call goes to an idle worker
/// (woken through its executor) or, when all are busy, into a FIFO queue that a worker
/// drains before it goes idle again; under load a worker therefore runs call after call
/// without sleeping, and a call costs one allocation (``PluginCall``) and a few lock
/// operations.
///
/// The watchdog, a thread of its own, resumes the caller of a call whose deadline passes
/// with a timeout result. A C call cannot be interrupted: the worker running it stays busy
/// until it returns, and its result is then discarded. Every call's deadline is its start
/// plus the same timeout, so deadlines grow in arrival order and the watchdog only looks at
/// the head of the queue and at the call each worker runs.
final class PluginThreadPool: Sendable {
    /// How ``admit(_:)`` placed a call.
    enum Admission {
        /// The worker with this index was idle and now owns the call: wake it.
        case wake(Int)
        /// All workers are busy; the call waits in the queue.
        case queued
        /// The pool is closing and takes no new call.
        case closed
    }

    private struct State {
        /// The indices of the idle workers; the most recently idle one is taken first.
        var idle: [Int]
        /// Per worker, the call it runs.
        var running: [PluginCall?]
        /// Calls waiting for a worker, from `head` on.
        var queue: [PluginCall] = []
        var head = 0
        /// Set by ``drain(within:)``: admit no new call.
        var closing = false
        /// Set by ``shutdown()``: the watchdog exits.
        var stopped = false
        /// The task waiting in ``drain(within:)`` for every worker to be idle, and until when.
        var drainWaiter: CheckedContinuation<Bool, Never>?
        var drainDeadline: ContinuousClock.Instant?
        /// Whether the watchdog sleeps without a deadline: a new call then wakes it.
        var watchdogIdle = false

        var queued: Int { queue.count - head }

        mutating func dequeue() -> PluginCall? {
            guard head < queue.count else { return nil }
            let call = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 {
                queue.removeFirst(head)
                head = 0
            }
            return call
        }
    }

    /// One executor per worker; ``PluginHandler`` submits work to `executors[index]`.
    let executors: [ThreadExecutor]
    /// The timeout of every call.
    let timeout: Duration
    private let state: Mutex<State>
    private let watchdog: ThreadExecutor
    private let wakeWatchdog = DispatchSemaphore(value: 0)
    private let logger: Logger

    /// Starts `threads` worker threads and the watchdog thread.
    init(threads: Int, timeout: Duration, logger: Logger) {
        executors = (1...threads).map { ThreadExecutor(name: "idem-plugin-\($0)") }
        self.timeout = timeout
        self.logger = logger
        state = Mutex(State(idle: Array((0..<threads).reversed()), running: Array(repeating: nil, count: threads)))
        watchdog = ThreadExecutor(name: "idem-plugin-wd")
        // The loop holds the pool until shutdown() ends it.
        watchdog.submit { self.watch() }
    }

    /// Places `call`: on an idle worker, which the caller then wakes, or in the queue.
    func admit(_ call: PluginCall) -> Admission {
        let (admission, wakeWatchdog) = state.withLock { state -> (Admission, Bool) in
            if state.closing { return (.closed, false) }
            let wake = state.watchdogIdle
            state.watchdogIdle = false
            if let worker = state.idle.popLast() {
                state.running[worker] = call
                return (.wake(worker), wake)
            }
            state.queue.append(call)
            return (.queued, wake)
        }
        if wakeWatchdog { self.wakeWatchdog.signal() }
        return admission
    }

    /// Called by `worker` when its call has returned: the next queued call it now owns, or
    /// `nil` when the queue is empty and the worker is idle again.
    func next(after worker: Int) -> PluginCall? {
        let (call, drained) = state.withLock { state -> (PluginCall?, CheckedContinuation<Bool, Never>?) in
            state.running[worker] = nil
            while let call = state.dequeue() {
                // A call that timed out while queued has its result: skip it.
                if call.isResolved { continue }
                state.running[worker] = call
                return (call, nil)
            }
            state.idle.append(worker)
            guard state.idle.count == state.running.count, let waiter = state.drainWaiter else { return (nil, nil) }
            state.drainWaiter = nil
            state.drainDeadline = nil
            return (nil, waiter)
        }
        drained?.resume(returning: true)
        return call
    }

    /// Admits no new call and waits until the running and queued calls have returned, or
    /// `limit` has passed; returns whether they all returned.
    func drain(within limit: Duration?) async -> Bool {
        await withCheckedContinuation { (waiter: CheckedContinuation<Bool, Never>) in
            let done = state.withLock { state -> Bool in
                state.closing = true
                if state.idle.count == state.running.count && state.queued == 0 { return true }
                state.drainWaiter = waiter
                state.drainDeadline = limit.map { ContinuousClock.now + $0 }
                return false
            }
            if done {
                waiter.resume(returning: true)
            } else {
                wakeWatchdog.signal()
            }
        }
    }

    /// Stops the pool: resolves any call still waiting, ends the watchdog, and lets each
    /// worker thread exit once its current call (if any) has returned.
    func shutdown() {
        let (calls, waiter) = state.withLock { state -> ([PluginCall], CheckedContinuation<Bool, Never>?) in
            state.closing = true
            state.stopped = true
            var calls = state.running.compactMap { $0 }
            while let call = state.dequeue() { calls.append(call) }
            let waiter = state.drainWaiter
            state.drainWaiter = nil
            return (calls, waiter)
        }
        for call in calls {
            call.resolve(.retry("the plugin handler closed before the plugin call returned"))
        }
        waiter?.resume(returning: false)
        wakeWatchdog.signal()
        watchdog.shutdown()
        for executor in executors { executor.shutdown() }
    }

    /// The watchdog's loop: times out the calls whose deadline has passed, then sleeps until
    /// the next deadline.
    private func watch() {
        while true {
            let now = ContinuousClock.now
            var expiredRunning: [PluginCall] = []
            var expiredQueued: [PluginCall] = []
            var drainWaiter: CheckedContinuation<Bool, Never>?
            let (stop, next) = state.withLock { state -> (Bool, ContinuousClock.Instant?) in
                if state.stopped { return (true, nil) }
                var next: ContinuousClock.Instant?
                for case let call? in state.running where !call.isResolved {
                    if call.deadline <= now {
                        expiredRunning.append(call)
                    } else if next.map({ call.deadline < $0 }) ?? true {
                        next = call.deadline
                    }
                }
                while state.head < state.queue.count {
                    let call = state.queue[state.head]
                    if !call.isResolved && call.deadline > now {
                        if next.map({ call.deadline < $0 }) ?? true { next = call.deadline }
                        break
                    }
                    if !call.isResolved { expiredQueued.append(call) }
                    _ = state.dequeue()
                }
                if let deadline = state.drainDeadline, state.drainWaiter != nil {
                    if deadline <= now {
                        drainWaiter = state.drainWaiter
                        state.drainWaiter = nil
                        state.drainDeadline = nil
                    } else if next.map({ deadline < $0 }) ?? true {
                        next = deadline
                    }
                }
                state.watchdogIdle = next == nil
                return (false, next)
            }
            if stop { return }
            timeOut(running: expiredRunning, queued: expiredQueued)
            drainWaiter?.resume(returning: false)
            if let next {
                let seconds = max(0, (next - ContinuousClock.now) / .seconds(1))
                _ = wakeWatchdog.wait(timeout: .now() + seconds)
            } else {
                wakeWatchdog.wait()
            }
        }
    }

    private func timeOut(running: [PluginCall], queued: [PluginCall]) {
        let reason = "plugin handler timed out after \(timeout.pluginText)"
        for call in running where call.resolve(.retry(reason)) {
            logger.warning(
                "plugin call timed out; its thread stays busy until the call returns, and its result is discarded",
                metadata: ["id": "\(call.id)", "attempt": "\(call.attempt)", "timeout": "\(timeout.pluginText)"])
        }
        let busy = "\(reason) waiting for a free plugin thread (all \(executors.count) busy)"
        for call in queued where call.resolve(.retry(busy)) {
            logger.warning(
                "plugin call timed out waiting for a free plugin thread",
                metadata: [
                    "id": "\(call.id)", "attempt": "\(call.attempt)", "timeout": "\(timeout.pluginText)",
                    "threads": "\(executors.count)",
                ])
        }
    }
}
