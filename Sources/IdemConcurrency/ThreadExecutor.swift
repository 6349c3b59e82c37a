import Foundation

/// A serial executor backed by one dedicated operating-system thread.
///
/// The client wrappers make blocking C calls (libpq, librabbitmq, librdkafka). Swift's
/// cooperative thread pool has one thread per core, so a blocking call there stalls every
/// task. An actor whose `unownedExecutor` is a `ThreadExecutor` runs all of its methods on
/// its own thread instead, and C libraries that are not thread-safe (librabbitmq) see every
/// call on the same thread.
///
/// ```swift
/// actor Connection {
///     private let executor = ThreadExecutor(name: "pg-conn")
///     nonisolated var unownedExecutor: UnownedSerialExecutor {
///         executor.asUnownedSerialExecutor()
///     }
/// }
/// ```
///
/// The thread runs until ``shutdown()``; the owner calls it when it closes.
public final class ThreadExecutor: SerialExecutor, @unchecked Sendable {
    // @unchecked Sendable: the job queue and the stop flag are guarded by `condition`;
    // `thread` is set once in init and never mutated.
    private let condition = NSCondition()
    private var queue: [Work] = []
    private var stopping = false
    private var exited = false
    /// The name the thread carries in debuggers and `top -H`.
    public let name: String

    /// Starts a new thread named `name` that runs the jobs enqueued on this executor.
    public init(name: String) {
        self.name = name
        startThread()
    }

    private enum Work {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    /// Enqueues a job; it runs on this executor's thread, in order.
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        queue.append(.job(unowned))
        reviveIfExited()
        condition.signal()
        condition.unlock()
    }

    /// Returns this executor as an unowned serial executor for an actor's `unownedExecutor`.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    private static let threadKey = "idem.ThreadExecutor"

    /// Whether the caller runs on this executor's thread.
    public var isCurrentThread: Bool {
        (Thread.current.threadDictionary[Self.threadKey] as? ObjectIdentifier) == ObjectIdentifier(self)
    }

    /// Asks the thread to finish the jobs already enqueued and exit.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on this executor's thread and returns its result, without occupying a
    /// thread of the cooperative pool while it runs.
    public func run<T: Sendable, E: Error>(
        _ body: @escaping @Sendable () throws(E) -> T
    ) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            self.submit {
                do throws(E) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Runs `body` on this executor's thread, later, in order with the other jobs.
    public func submit(_ body: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(.closure(body))
        reviveIfExited()
        condition.signal()
        condition.unlock()
    }

    /// Work that arrives after the thread has exited still runs, in order, on a new thread
    /// that exits again once the queue is empty, so that no caller waits forever (it
    /// typically finds its connection closed). Called with `condition` locked.
    private func reviveIfExited() {
        guard exited else { return }
        exited = false
        startThread()
    }

    private func startThread() {
        // The thread holds the executor until `shutdown()` lets its loop end.
        let thread = Thread { self.runLoop() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func perform(_ work: Work) {
        switch work {
        case .job(let job): job.runSynchronously(on: asUnownedSerialExecutor())
        case .closure(let body): body()
        }
    }

    private func runLoop() {
        // Named from inside the thread: that is where Linux applies it (pthread_setname_np).
        Thread.current.name = name
        Thread.current.threadDictionary[Self.threadKey] = ObjectIdentifier(self)
        while true {
            condition.lock()
            while queue.isEmpty && !stopping {
                condition.wait()
            }
            if queue.isEmpty {
                exited = true
                condition.unlock()
                return
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()
            for work in batch {
                perform(work)
            }
        }
    }
}
