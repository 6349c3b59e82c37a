import IdemConcurrency
import IdemCore
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `exec` handler: a pool of long-lived child processes, in any language, that handle
/// messages over JSON lines on their standard input and output.
///
/// Each message becomes one request line; the child answers with one response line per
/// request, matched by `id`, in any order (docs/exec-protocol.md). Up to `inFlight`
/// requests are outstanding per process; each call goes to the least-loaded running
/// process, and calls beyond the pool's capacity wait in arrival order.
///
/// A call that gets no response within `timeout` returns ``HandlerResult/retry(_:)`` and
/// its process is killed and replaced. A process that exits or writes a line that is not a
/// valid response is killed and restarted with exponential backoff (100 ms doubling to
/// 5 s, reset after 10 s of healthy running). A call alone in flight on it returns
/// ``HandlerResult/retry(_:)`` naming what happened; calls in flight together on it (or
/// behind a timed-out one) are run again on the next process, one at a time, so that a
/// message that crashes the process costs attempts to itself only. Calls made while no
/// process runs wait for a restart, at most `timeout`. The children's standard-error lines
/// are logged at warning level with `consumer` and `pid` metadata.
///
/// Blocking I/O stays off Swift's cooperative pool: every process slot has a reader thread
/// (output, timeouts, restarts) and a writer thread (requests queued at the same moment
/// go out in one `write(2)`).
///
/// ```swift
/// let handler = ExecHandler(
///     command: ["python3", "handler.py"], processes: 2, inFlight: 64,
///     timeout: .seconds(30), consumer: "billing", logger: logger)
/// try await handler.start()
/// let result = await handler.handle(message, context: context)
/// await handler.shutdown()
/// ```
public final class ExecHandler: MessageHandler {
    /// How long children get to exit after their standard input is closed at shutdown.
    static let shutdownGrace: Duration = .seconds(2)

    /// The program and its arguments.
    let command: [String]
    /// Requests in flight per process.
    let inFlight: Int
    /// How long one request may wait for its response.
    let timeout: Duration
    /// The consumer's name, for log metadata.
    let consumer: String
    /// Where lifecycle events and the children's standard error go.
    let logger: Logger
    /// The children's environment, as `NAME=value` entries.
    let environment: [String]
    /// Each slot's dedicated threads.
    let threads: [ExecSlotThreads]
    /// Everything that changes, behind one lock.
    let state: Mutex<ExecPoolState>

    /// Creates a handler; ``start()`` spawns its processes. The handler owns two threads
    /// per process from here on: call ``shutdown()`` to release them.
    ///
    /// - Parameters:
    ///   - command: The program (a path, or a bare name looked up in `PATH`) and its
    ///     arguments.
    ///   - processes: Child processes in the pool (at least 1).
    ///   - inFlight: Requests in flight per process (at least 1).
    ///   - environment: Variables added to (or replacing) the worker's environment.
    ///   - timeout: How long a request may wait for its response.
    ///   - consumer: The consumer's name, for log metadata.
    ///   - logger: Receives lifecycle events and the children's standard-error lines.
    public init(
        command: [String], processes: Int = 1, inFlight: Int = 16, environment: [String: String] = [:],
        timeout: Duration = .seconds(30), consumer: String, logger: Logger
    ) {
        self.command = command
        self.inFlight = max(1, inFlight)
        self.timeout = max(timeout, .milliseconds(1))
        self.consumer = consumer
        self.logger = logger
        self.environment = Self.mergedEnvironment(environment)
        let processes = max(1, processes)
        threads = (0..<processes).map { ExecSlotThreads(index: $0) }
        state = Mutex(ExecPoolState(processes: processes))
    }

    /// Checks that `command` can be started: `nil` when its program exists (looked up in
    /// `PATH` when it has no `/`) and is executable, else the reason it cannot be started.
    public static func validate(command: [String]) -> String? {
        guard let program = command.first else { return "the command is empty" }
        switch ExecCommandLookup.resolve(program, searchPath: searchPath) {
        case .success: return nil
        case .failure(let error): return error.reason
        }
    }

    /// Spawns the pool's processes.
    ///
    /// Throws ``ExecHandlerError`` naming the command and the reason when its program
    /// cannot be found or executed. Calling it again after a success does nothing.
    public func start() async throws(ExecHandlerError) {
        let skip = state.withLock { $0.started || $0.shuttingDown }
        guard !skip else { return }
        guard let program = command.first else {
            throw ExecHandlerError(command: command, reason: "the command is empty")
        }
        let executable: String
        switch ExecCommandLookup.resolve(program, searchPath: Self.searchPath) {
        case .success(let path): executable = path
        case .failure(let error): throw ExecHandlerError(command: command, reason: error.reason)
        }
        var children: [ExecChild] = []
        for slot in threads {
            do {
                let child = try await slot.reader.run { [command, environment] () throws(ExecHandlerError) in
                    try ExecChild.spawn(executable: executable, arguments: command, environment: environment)
                }
                children.append(child)
            } catch {
                await discard(children)
                throw error
            }
        }
        let installed = state.withLock { state -> Bool in
            guard !state.shuttingDown else { return false }
            state.executable = executable
            state.started = true
            for (index, child) in children.enumerated() {
                state.slots[index].install(child)
            }
            return true
        }
        guard installed else {
            await discard(children)
            return
        }
        for (index, child) in children.enumerated() {
            threads[index].reader.submit { [self] in supervise(slot: index, child: child) }
        }
        logger.info(
            "exec handler started",
            metadata: [
                "consumer": .string(consumer), "command": .string(command.joined(separator: " ")),
                "pids": .string(children.map { String($0.pid) }.joined(separator: ",")),
            ])
    }

    /// Stops the pool: new calls return ``HandlerResult/retry(_:)``, the children's
    /// standard input is closed so that they can finish what they have and exit, children
    /// still running after 2 s are killed (SIGKILL, with their process group), and all are
    /// reaped before this returns.
    public func shutdown() async {
        let (children, waiting) = state.withLock { state -> ([(Int, ExecChild)], [ExecRequest]) in
            if !state.shuttingDown {
                state.shuttingDown = true
                state.shutdownDeadline = ContinuousClock.now + Self.shutdownGrace
            }
            let children = state.slots.indices.compactMap { index in state.slots[index].child.map { (index, $0) } }
            var waiting = state.waiters.removeAll()
            for index in state.slots.indices {
                waiting.append(contentsOf: state.slots[index].takeSuspects())
            }
            return (children, waiting)
        }
        for request in waiting {
            request.continuation.resume(returning: .retry("exec handler is shutting down"))
        }
        for (index, child) in children {
            threads[index].writer.submit { [self] in
                state.withLock { state in
                    if state.slots[index].child === child { state.slots[index].inputClosed = true }
                }
                child.closeInput()
            }
        }
        for slot in threads {
            slot.wake.wake()
        }
        for slot in threads {
            // Each runs after the slot's supervision loop (or drain job) has ended.
            await slot.reader.run {}
            await slot.writer.run {}
            slot.reader.shutdown()
            slot.writer.shutdown()
        }
    }

    /// Sends `message` to a process and returns its answer; never throws: failures of the
    /// process (exit, invalid output, timeout, shutdown) come back as
    /// ``HandlerResult/retry(_:)``.
    public func handle(_ message: Message, context: HandlerContext) async -> HandlerResult {
        let line = ExecRequestEncoder.encode(message, context: context)
        let id = context.id.value
        return await withCheckedContinuation { continuation in
            dispatch(id: id, line: line, continuation: continuation)
        }
    }

    private enum Dispatch {
        case answer(HandlerResult)
        case sent(Int, ExecSendEffects)
        case queued(wakeAll: Bool)
    }

    /// Hands a request to the least-loaded running process, or queues it.
    private func dispatch(id: String, line: [UInt8], continuation: CheckedContinuation<HandlerResult, Never>) {
        let now = ContinuousClock.now
        let outcome = state.withLock { state -> Dispatch in
            guard state.started else { return .answer(.retry("exec handler is not started")) }
            guard !state.shuttingDown else { return .answer(.retry("exec handler is shutting down")) }
            let request = ExecRequest(
                id: id, serial: state.nextSerial, line: line, deadline: now + timeout, continuation: continuation)
            state.nextSerial &+= 1
            if state.waiters.isEmpty, let index = state.leastLoadedSlot(limit: inFlight) {
                return .sent(index, state.slots[index].send(request, deadline: now + timeout))
            }
            let first = state.waiters.isEmpty
            state.waiters.append(request)
            return .queued(wakeAll: first && state.liveCount == 0)
        }
        switch outcome {
        case .answer(let result):
            continuation.resume(returning: result)
        case .sent(let index, let effects):
            apply(effects, slot: index)
        case .queued(let wakeAll):
            // The restarting slots recompute how long they may pause before this call's
            // wait runs out.
            if wakeAll {
                for slot in threads { slot.wake.wake() }
            }
        }
    }

    /// Kills and reaps children that were spawned but will not be used.
    private func discard(_ children: [ExecChild]) async {
        for (index, child) in children.enumerated() {
            child.killGroup()
            _ = await threads[index].reader.run { child.reap() }
        }
    }

    /// The worker's `PATH`, where bare program names are looked up.
    static var searchPath: String? {
        getenv("PATH").map { String(cString: $0) }
    }

    /// The worker's environment with `extra` added, as `NAME=value` entries.
    private static func mergedEnvironment(_ extra: [String: String]) -> [String] {
        var entries: [String] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            let name = text.prefix { $0 != "=" }
            if extra[String(name)] == nil { entries.append(text) }
            index += 1
        }
        for (name, value) in extra.sorted(by: { $0.key < $1.key }) {
            entries.append("\(name)=\(value)")
        }
        return entries
    }
}
