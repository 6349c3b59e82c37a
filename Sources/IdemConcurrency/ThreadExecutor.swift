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
    // @unchecked Sendable: the job queue and the flags are guarded by `condition`; the wake
    // pipe's descriptors are set once in init.
    private let condition = NSCondition()
    private var queue: [Work] = []
    private var head = 0
    private var stopping = false
    private var exited = false
    /// Whether the thread is inside ``waitForReadable(_:timeout:)``; new work then writes a
    /// byte to the wake pipe.
    private var waitingForIO = false
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// The name the thread carries in debuggers and `top -H`.
    public let name: String

    /// Starts a new thread named `name` that runs the jobs enqueued on this executor.
    public init(name: String) {
        self.name = name
        var descriptors: [Int32] = [-1, -1]
        if pipe(&descriptors) == 0 {
            for descriptor in descriptors {
                _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            }
        }
        wakeRead = descriptors[0]
        wakeWrite = descriptors[1]
        startThread()
    }

    deinit {
        if wakeRead >= 0 { close(wakeRead) }
        if wakeWrite >= 0 { close(wakeWrite) }
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
        workArrived()
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
        workArrived()
        condition.unlock()
    }

    /// Wakes the thread for new work. Called with `condition` locked.
    private func workArrived() {
        reviveIfExited()
        condition.signal()
        if waitingForIO {
            waitingForIO = false
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
    }

    /// How a wait for a readable descriptor ended.
    public enum IOWait: Sendable, Equatable {
        /// The descriptor has data (or an error or hang-up) to read.
        case readable
        /// The timeout passed.
        case timedOut
        /// Other work was enqueued on this executor: return to let it run, then wait again.
        case workPending
    }

    /// Waits on this executor's thread until `descriptor` is readable, `timeout` passes, or
    /// other work is enqueued on the executor, whichever comes first.
    ///
    /// A client whose thread waits for its socket (librabbitmq's consumer, for one) uses it
    /// so that acks and publishes sent to the same thread run at once, not after the wait.
    public func waitForReadable(_ descriptor: Int32, timeout: Duration) -> IOWait {
        condition.lock()
        if head < queue.count {
            condition.unlock()
            return .workPending
        }
        waitingForIO = true
        condition.unlock()
        let (seconds, attoseconds) = timeout.components
        let rounded = seconds.multipliedReportingOverflow(by: 1000)
        let total =
            rounded.overflow
            ? Int64.max : rounded.partialValue + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        let milliseconds = max(0, min(Int64(Int32.max), total))
        var descriptors = [
            pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        ]
        var ready: Int32
        repeat {
            ready = poll(&descriptors, 2, Int32(milliseconds))
        } while ready < 0 && errno == EINTR
        condition.lock()
        waitingForIO = false
        let pending = head < queue.count
        condition.unlock()
        var sink = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &sink, sink.count) > 0 {}
        if descriptors[0].revents != 0 { return .readable }
        return pending ? .workPending : .timedOut
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

    #if os(Linux)
        /// Sets the calling thread's name as Linux shows it (at most 15 bytes), through
        /// `/proc/thread-self/comm`.
        private static func setKernelThreadName(_ name: String) {
            let descriptor = open("/proc/thread-self/comm", O_WRONLY)
            guard descriptor >= 0 else { return }
            let bytes = Array(name.utf8.prefix(15))
            _ = bytes.withUnsafeBufferPointer { write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
        }
    #endif

    private func runLoop() {
        // Named from inside the thread, directly: Linux names the thread that calls
        // pthread_setname_np, and a new thread otherwise keeps its creator's name (Foundation's
        // setter does not always pass the name on).
        Thread.current.name = name
        #if os(Linux)
            Self.setKernelThreadName(name)
        #endif
        Thread.current.threadDictionary[Self.threadKey] = ObjectIdentifier(self)
        while true {
            condition.lock()
            while head == queue.count && !stopping {
                condition.wait()
            }
            if head == queue.count {
                exited = true
                condition.unlock()
                return
            }
            // One job at a time, so that a job waiting for I/O sees the ones behind it.
            let work = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            perform(work)
        }
    }
}
