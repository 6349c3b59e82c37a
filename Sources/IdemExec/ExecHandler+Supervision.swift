import IdemCore
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ExecHandler {
    /// The longest response line accepted, in bytes.
    static let maximumResponseLength = 1 << 20
    /// Standard-error lines longer than this many bytes are logged in pieces.
    static let maximumErrorLineLength = 16 << 10

    /// Why the reader stopped serving a child.
    enum ChildEnd: Sendable, Equatable {
        /// Its standard output reached end-of-file (it exited, most likely).
        case exited
        /// It wrote a line that is not a valid response.
        case invalid(String)
        /// A request got no response in time.
        case timedOut(id: String)
    }

    /// The slot's supervision loop, on its reader thread: serves `child` until it ends,
    /// fails its in-flight requests, then restarts it with backoff, until shutdown.
    func supervise(slot index: Int, child first: ExecChild) {
        var child = first
        while true {
            let startedAt = ContinuousClock.now
            let end = serve(child, slot: index)
            guard var delay = terminate(child, slot: index, end: end, lifetime: startedAt.duration(to: .now)) else {
                return
            }
            while true {
                guard pause(delay, slot: index) else { return }
                guard let executable = state.withLock({ $0.shuttingDown ? nil : $0.executable }) else { return }
                do {
                    let next = try ExecChild.spawn(executable: executable, arguments: command, environment: environment)
                    guard install(next, slot: index) else {
                        next.killGroup()
                        _ = next.reap()
                        return
                    }
                    logger.info("exec handler process restarted", metadata: metadata(for: next))
                    child = next
                    break
                } catch {
                    let retry = state.withLock { state -> Duration? in
                        state.lastFailure = error.description
                        return state.shuttingDown ? nil : state.slots[index].nextRestartDelay(ranFor: nil)
                    }
                    guard let retry else { return }
                    logger.error(
                        "could not restart the exec handler process",
                        metadata: [
                            "consumer": .string(consumer), "error": .string(error.description),
                            "restart_in": .string(DurationText.describe(retry)),
                        ])
                    delay = retry
                }
            }
        }
    }

    /// Makes `child` the slot's running process and gives it waiting requests; `false` at
    /// shutdown.
    private func install(_ child: ExecChild, slot index: Int) -> Bool {
        let now = ContinuousClock.now
        let effects = state.withLock { state -> ExecSendEffects? in
            guard !state.shuttingDown else { return nil }
            state.slots[index].install(child)
            return state.feed(slot: index, now: now, timeout: timeout, limit: inFlight)
        }
        guard let effects else { return false }
        apply(effects, slot: index)
        return true
    }

    /// Waits `delay` before a restart; meanwhile, while no process runs, fails waiting
    /// calls whose wait has run out. Returns `false` at shutdown.
    private func pause(_ delay: Duration, slot index: Int) -> Bool {
        let until = ContinuousClock.now + delay
        while true {
            let now = ContinuousClock.now
            let (stop, expired, reason, wakeAt) = state.withLock {
                state -> (Bool, [ExecRequest], String, ContinuousClock.Instant) in
                guard !state.shuttingDown else { return (true, [], "", now) }
                // This slot's suspects wait for this slot's next process only.
                var expired = state.slots[index].takeSuspects(expiredAt: now)
                var wakeAt = until
                if let first = state.slots[index].suspects.first { wakeAt = min(wakeAt, first.deadline) }
                if state.liveCount == 0 {
                    while let first = state.waiters.first, first.deadline <= now, let request = state.waiters.popFirst()
                    {
                        expired.append(request)
                    }
                    if let first = state.waiters.first { wakeAt = min(wakeAt, first.deadline) }
                }
                return (false, expired, state.lastFailure ?? "it is starting", wakeAt)
            }
            for request in expired {
                request.continuation.resume(
                    returning: .retry(
                        "no exec handler process came up within \(DurationText.describe(timeout)): \(reason)"))
            }
            if stop { return false }
            if now >= until { return true }
            var descriptor = pollfd(fd: threads[index].wake.readDescriptor, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, DurationText.pollTimeout(until: wakeAt)) > 0 {
                threads[index].wake.drain()
            }
        }
    }

    /// Reads the child's output, delivering responses and logging its standard error,
    /// until it ends, writes an invalid line, or a request times out.
    private func serve(_ child: ExecChild, slot index: Int) -> ChildEnd {
        let wake = threads[index].wake
        var output = ExecLineBuffer(limit: Self.maximumResponseLength)
        var errorLines = ExecLineBuffer(limit: Self.maximumErrorLineLength)
        var errorsOpen = true
        var killedAt: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let logMetadata = metadata(for: child)
        defer { flushErrors(child, lines: &errorLines, open: errorsOpen, buffer: &buffer, metadata: logMetadata) }
        while true {
            let wakeAt = state.withLock { state -> ContinuousClock.Instant? in
                var wakeAt = state.slots[index].earliestDeadline()
                if let shutdown = state.shutdownDeadline {
                    // After the kill, give up on end-of-file a second later (a process
                    // outside the group may hold the pipe).
                    let next = killedAt.map { $0 + .seconds(1) } ?? shutdown
                    wakeAt = min(wakeAt ?? next, next)
                }
                state.slots[index].readerIdle = wakeAt == nil
                return wakeAt
            }
            var descriptors = [
                pollfd(fd: child.output, events: Int16(POLLIN), revents: 0),
                pollfd(fd: errorsOpen ? child.errors : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake.readDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&descriptors, 3, DurationText.pollTimeout(until: wakeAt))
            if descriptors[2].revents != 0 { wake.drain() }
            if descriptors[1].revents != 0 {
                errorsOpen = readErrors(child, lines: &errorLines, buffer: &buffer, metadata: logMetadata)
            }
            if descriptors[0].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(child.output, $0.baseAddress, $0.count) }
                if count == 0 { return .exited }
                if count < 0 && errno != EAGAIN && errno != EINTR { return .exited }
                if count > 0 {
                    let invalid = buffer.withUnsafeBufferPointer { bytes in
                        handleOutput(UnsafeBufferPointer(rebasing: bytes[0..<count]), lines: &output, slot: index)
                    }
                    if let invalid { return .invalid(invalid) }
                }
            }
            guard let wakeAt, ContinuousClock.now >= wakeAt else { continue }
            let now = ContinuousClock.now
            let (timedOut, shutdown) = state.withLock { state -> (String?, ContinuousClock.Instant?) in
                guard let earliest = state.slots[index].earliestDeadline(), earliest <= now else {
                    return (nil, state.shutdownDeadline)
                }
                return (state.slots[index].firstExpired(at: now), state.shutdownDeadline)
            }
            if let timedOut { return .timedOut(id: timedOut) }
            if let killedAt, now >= killedAt + .seconds(1) { return .exited }
            if killedAt == nil, let shutdown, now >= shutdown {
                let grace = DurationText.describe(Self.shutdownGrace)
                logger.warning(
                    "exec handler process did not exit within \(grace) of shutdown; killing it", metadata: logMetadata)
                child.killGroup()
                killedAt = now
            }
        }
    }

    /// Parses the complete lines of `chunk` and delivers their responses; returns why the
    /// output is invalid, if it is.
    private func handleOutput(
        _ chunk: UnsafeBufferPointer<UInt8>, lines: inout ExecLineBuffer, slot index: Int
    ) -> String? {
        var responses: [ExecResponse] = []
        var invalid: String?
        lines.split(chunk) { line in
            if ExecResponse.isBlank(line) { return true }
            do {
                responses.append(try ExecResponse(parsing: line))
                return true
            } catch {
                invalid = "\(error): \(ExecResponse.excerpt(line))"
                return false
            }
        }
        if invalid == nil && lines.overflowed {
            invalid = "a line longer than \(Self.maximumResponseLength) bytes"
        }
        if !responses.isEmpty, let unknown = deliver(responses, slot: index) {
            // Responses come before the line that failed to parse, so this came first.
            invalid = "a response for an unknown id: \(unknown)"
        }
        return invalid
    }

    /// Resumes the calls that `responses` answer and gives the freed room to waiting calls;
    /// returns the first response whose ID matches no request in flight (as its JSON text).
    private func deliver(_ responses: [ExecResponse], slot index: Int) -> String? {
        let now = ContinuousClock.now
        let (answered, unknown, effects) = state.withLock {
            state -> ([(CheckedContinuation<HandlerResult, Never>, HandlerResult)], String?, ExecSendEffects) in
            var answered: [(CheckedContinuation<HandlerResult, Never>, HandlerResult)] = []
            answered.reserveCapacity(responses.count)
            for response in responses {
                guard let entry = state.slots[index].complete(id: response.id) else {
                    return (answered, JSONValue.string(response.id).jsonText, ExecSendEffects())
                }
                answered.append((entry.continuation, response.result))
            }
            return (answered, nil, state.feed(slot: index, now: now, timeout: timeout, limit: inFlight))
        }
        apply(effects, slot: index)
        for (continuation, result) in answered {
            continuation.resume(returning: result)
        }
        return unknown
    }

    /// Kills what is left of the child, fails its in-flight calls with the reason, reaps
    /// it and closes its pipes. Returns the delay before the restart, or `nil` at
    /// shutdown.
    private func terminate(_ child: ExecChild, slot index: Int, end: ChildEnd, lifetime: Duration) -> Duration? {
        let pid = child.pid
        let limit = DurationText.describe(timeout)
        var exit: String?
        if end == .exited { exit = child.waitForExit(within: .seconds(1)) }
        child.killGroup()
        let reason: String
        switch end {
        case .exited:
            reason = "exec handler \(exit ?? "closed its standard output") (pid \(pid))"
        case .invalid(let text):
            reason = "exec handler wrote an invalid line (pid \(pid)): \(text)"
        case .timedOut(let id):
            reason = "exec handler timed out after \(limit) on message \(id) (pid \(pid))"
        }
        let now = ContinuousClock.now
        typealias Failure = (continuation: CheckedContinuation<HandlerResult, Never>, result: HandlerResult)
        let (failed, rerun, delay) = state.withLock { state -> ([Failure], Int, Duration?) in
            state.lastFailure = reason
            let inFlight = state.slots[index].takeAll()
            guard !state.shuttingDown else {
                let abandoned = state.slots[index].takeSuspects()
                return (
                    inFlight.map { ($0.continuation, .retry(reason)) }
                        + abandoned.map { ($0.continuation, .retry("exec handler is shutting down")) }, 0, nil
                )
            }
            let blamed = Self.blamed(inFlight, end: end, now: now)
            let failure: HandlerResult
            if case .timedOut = end {
                failure = .retry("exec handler timed out after \(limit)")
            } else {
                failure = .retry(reason)
            }
            var failed: [Failure] = []
            var rerun = 0
            for request in inFlight {
                if blamed.contains(request.serial) {
                    failed.append((request.continuation, failure))
                } else {
                    state.slots[index].suspect(request.request(waitingUntil: now + timeout))
                    rerun += 1
                }
            }
            return (failed, rerun, state.slots[index].nextRestartDelay(ranFor: lifetime))
        }
        for failure in failed {
            failure.continuation.resume(returning: failure.result)
        }
        _ = child.reap()
        var logMetadata = metadata(for: child)
        logMetadata["reason"] = .string(reason)
        logMetadata["in_flight"] = .stringConvertible(failed.count + rerun)
        if rerun > 0 {
            logMetadata["run_again_alone"] = .stringConvertible(rerun)
        }
        if let delay {
            logMetadata["restart_in"] = .string(DurationText.describe(delay))
            logger.warning("exec handler process ended; restarting it", metadata: logMetadata)
        } else {
            logger.info("exec handler process ended", metadata: logMetadata)
        }
        child.closeOutputs()
        threads[index].writer.submit { child.closeInput() }
        return delay
    }

    /// The serials of the requests in flight that a process's `end` is pinned on: those
    /// that timed out, or the only one in flight when it exited or wrote an invalid line.
    /// With several in flight an exit or an invalid line is pinned on none: each is run
    /// again alone, and the one that ends the next process too is then the only one.
    static func blamed(_ inFlight: [ExecInFlight], end: ChildEnd, now: ContinuousClock.Instant) -> Set<UInt64> {
        switch end {
        case .timedOut:
            return Set(inFlight.lazy.filter { $0.deadline <= now }.map(\.serial))
        case .exited, .invalid:
            return inFlight.count == 1 ? [inFlight[0].serial] : []
        }
    }

    /// Reads what the child wrote to standard error once and logs complete lines; returns
    /// `false` at end-of-file.
    private func readErrors(
        _ child: ExecChild, lines: inout ExecLineBuffer, buffer: inout [UInt8], metadata: Logger.Metadata
    ) -> Bool {
        let count = buffer.withUnsafeMutableBytes { read(child.errors, $0.baseAddress, $0.count) }
        if count == 0 { return false }
        if count < 0 { return errno == EAGAIN || errno == EINTR }
        buffer.withUnsafeBufferPointer { bytes in
            lines.split(UnsafeBufferPointer(rebasing: bytes[0..<count])) { line in
                logError(line, metadata: metadata)
                return true
            }
        }
        if lines.overflowed, let partial = lines.takePartial() {
            partial.withUnsafeBufferPointer { logError($0, metadata: metadata) }
        }
        return true
    }

    /// Logs what is left on the child's standard error once it has ended.
    private func flushErrors(
        _ child: ExecChild, lines: inout ExecLineBuffer, open: Bool, buffer: inout [UInt8],
        metadata: Logger.Metadata
    ) {
        var open = open
        var rounds = 0
        while open && rounds < 64 {
            var descriptor = pollfd(fd: child.errors, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { break }
            open = readErrors(child, lines: &lines, buffer: &buffer, metadata: metadata)
            rounds += 1
        }
        if let partial = lines.takePartial() {
            partial.withUnsafeBufferPointer { logError($0, metadata: metadata) }
        }
    }

    private func logError(_ line: UnsafeBufferPointer<UInt8>, metadata: Logger.Metadata) {
        var text = String(decoding: line, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        logger.warning("\(text)", metadata: metadata)
    }

    /// `consumer` and `pid` metadata for log lines about `child`.
    func metadata(for child: ExecChild) -> Logger.Metadata {
        ["consumer": .string(consumer), "pid": .stringConvertible(child.pid)]
    }
}
