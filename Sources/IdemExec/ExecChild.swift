import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One running handler process: its pid and the parent's ends of its standard pipes.
///
/// The child runs in a process group of its own (so that killing it also kills whatever it
/// started) with default signal dispositions and an empty signal mask. Descriptors are
/// used by one thread each: `input` by the slot's writer thread, `output` and `errors` by
/// its reader thread, which also kills and reaps the child; the atomics only make closing
/// idempotent.
final class ExecChild: Sendable {
    /// The child's process ID, also its process group ID.
    let pid: pid_t
    /// The write end of the child's standard input (blocking).
    let input: Int32
    /// The read end of the child's standard output (non-blocking).
    let output: Int32
    /// The read end of the child's standard error (non-blocking).
    let errors: Int32
    private let inputOpen = Atomic<Bool>(true)
    private let outputsOpen = Atomic<Bool>(true)

    private init(pid: pid_t, input: Int32, output: Int32, errors: Int32) {
        self.pid = pid
        self.input = input
        self.output = output
        self.errors = errors
    }

    deinit {
        closeInput()
        closeOutputs()
    }

    /// Starts `executable` with `arguments` (the first is the program name the child sees)
    /// and `environment` (`NAME=value` entries).
    static func spawn(executable: String, arguments: [String], environment: [String]) throws(ExecHandlerError)
        -> ExecChild
    {
        let spawned = ExecPipe.lock.withLock { _ in
            spawnLocked(executable: executable, arguments: arguments, environment: environment)
        }
        return try spawned.get()
    }

    private static func spawnLocked(executable: String, arguments: [String], environment: [String])
        -> Result<ExecChild, ExecHandlerError>
    {
        func failure(_ what: String, _ code: Int32) -> Result<ExecChild, ExecHandlerError> {
            .failure(ExecHandlerError(command: arguments, reason: "\(what): \(String(cString: strerror(code)))"))
        }
        guard let inputPipe = ExecPipe.make(nonBlockingRead: false, nonBlockingWrite: false) else {
            return failure("cannot create a pipe", errno)
        }
        guard let outputPipe = ExecPipe.make(nonBlockingRead: true, nonBlockingWrite: false) else {
            let code = errno
            closeAll([inputPipe.read, inputPipe.write])
            return failure("cannot create a pipe", code)
        }
        guard let errorPipe = ExecPipe.make(nonBlockingRead: true, nonBlockingWrite: false) else {
            let code = errno
            closeAll([inputPipe.read, inputPipe.write, outputPipe.read, outputPipe.write])
            return failure("cannot create a pipe", code)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inputPipe.read, 0)
        posix_spawn_file_actions_adddup2(&actions, outputPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, errorPipe.write, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        // Signals the parent ignores (SIGPIPE, typically) stay ignored across exec unless
        // reset here; a handler must see the default behaviour.
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var pid: pid_t = 0
        let result = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            }
        }
        closeAll([inputPipe.read, outputPipe.write, errorPipe.write])
        guard result == 0 else {
            closeAll([inputPipe.write, outputPipe.read, errorPipe.read])
            return failure("cannot execute '\(executable)'", result)
        }
        return .success(ExecChild(pid: pid, input: inputPipe.write, output: outputPipe.read, errors: errorPipe.read))
    }

    /// Writes all of `bytes` to the child's standard input, blocking while the pipe is full.
    /// Returns `false` when the child no longer reads it (`EPIPE`) or another error occurs.
    ///
    /// Call on a thread that blocks `SIGPIPE` (see ``blockBrokenPipeSignal()``).
    func writeInput(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return true }
            var offset = 0
            while offset < buffer.count {
                let written = write(input, base + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    if errno == EPIPE { Self.discardBrokenPipeSignal() }
                    return false
                }
            }
            return true
        }
    }

    /// Closes the child's standard input (once).
    func closeInput() {
        if inputOpen.exchange(false, ordering: .acquiringAndReleasing) {
            _ = close(input)
        }
    }

    /// Closes the child's standard output and error (once).
    func closeOutputs() {
        if outputsOpen.exchange(false, ordering: .acquiringAndReleasing) {
            _ = close(output)
            _ = close(errors)
        }
    }

    /// Sends SIGKILL to the child's process group (the child and what it started).
    func killGroup() {
        _ = kill(-pid, SIGKILL)
        _ = kill(pid, SIGKILL)
    }

    /// How the child ended (`exited with status N`, `was killed by signal N (NAME)`), or
    /// `nil` while it runs. Does not reap it, so that its process group ID stays reserved
    /// until ``reap()``.
    func exitDescription() -> String? {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0,
            info._sifields._sigchld.si_pid != 0
        else { return nil }
        let status = info._sifields._sigchld.si_status
        if info.si_code == Int32(CLD_EXITED) { return "exited with status \(status)" }
        let name = strsignal(status).map { " (\(String(cString: $0)))" } ?? ""
        return "was killed by signal \(status)\(name)"
    }

    /// Waits until the child has exited, at most `limit`; returns how it ended, or `nil`
    /// if it still runs.
    func waitForExit(within limit: Duration) -> String? {
        let deadline = ContinuousClock.now + limit
        while true {
            if let exit = exitDescription() { return exit }
            guard ContinuousClock.now < deadline else { return nil }
            _ = poll(nil, 0, 5)
        }
    }

    /// Reaps the child, waiting for it to exit, and returns its raw wait status.
    func reap() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return status
    }

    /// Blocks SIGPIPE on the calling thread, so that writing to a child that is gone fails
    /// with `EPIPE` instead of killing the worker (the process-wide disposition is left
    /// alone).
    static func blockBrokenPipeSignal() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Consumes the SIGPIPE left pending on this thread by a failed write.
    private static func discardBrokenPipeSignal() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        var immediately = timespec(tv_sec: 0, tv_nsec: 0)
        _ = sigtimedwait(&set, nil, &immediately)
    }

    private static func closeAll(_ descriptors: [Int32]) {
        for descriptor in descriptors where descriptor >= 0 {
            _ = close(descriptor)
        }
    }

    /// Calls `body` with a NULL-terminated C array of copies of `strings`.
    private static func withCStrings<R>(
        _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R
    ) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer {
            for copy in copies { free(copy) }
        }
        return body(copies)
    }
}
