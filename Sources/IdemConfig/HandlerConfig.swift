import IdemCore

/// The handler a consumer names, and its limits.
public struct HandlerConfig: Sendable, Hashable {
    /// The kind of handler and its own settings.
    public var kind: Kind
    /// How long one message may take; a timeout counts as a transient failure.
    public var timeout: Duration
    /// How many messages the handler may work on at once (`concurrency`), when given;
    /// otherwise ``effectiveConcurrency`` picks one for the kind.
    public var concurrency: Int?

    /// The handler kinds of docs/design.md.
    public enum Kind: Sendable, Hashable {
        /// One parameterised statement run inside the dedup transaction.
        case sql(statement: String, parameters: [SQLParameterSource])
        /// A long-lived child process speaking JSON lines.
        case exec(ExecHandlerSettings)
        /// A shared library loaded through the C ABI.
        case plugin(path: String, config: String)
        /// A Swift handler registered by name in a program that embeds idem.
        case swift(name: String)

        /// The kind's configuration key.
        public var name: String {
            switch self {
            case .sql: return "sql"
            case .exec: return "exec"
            case .plugin: return "plugin"
            case .swift: return "swift"
            }
        }
    }

    /// Creates a handler configuration; the default timeout is 30 s.
    public init(kind: Kind, timeout: Duration = .seconds(30), concurrency: Int? = nil) {
        self.kind = kind
        self.timeout = timeout
        self.concurrency = concurrency
    }

    /// How many messages of a batch idem hands to the handler at once, in lease mode. A
    /// plugin queues calls for its `concurrency` threads itself and gets every message of
    /// the batch at once (its threads never wait for idem); the other kinds get
    /// ``effectiveConcurrency``.
    public func dispatchLimit(batchSize: Int) -> Int {
        if case .plugin = kind { return max(batchSize, effectiveConcurrency) }
        return effectiveConcurrency
    }

    /// How many messages the handler works on at once: `concurrency` when given; for an
    /// exec handler, its processes × in-flight requests; for a plugin, 4 (each concurrent
    /// call has a thread of its own); otherwise 16.
    public var effectiveConcurrency: Int {
        if let concurrency { return concurrency }
        switch kind {
        case .exec(let settings): return settings.processes * settings.inFlight
        case .plugin: return 4
        case .sql, .swift: return 16
        }
    }
}

/// Settings of an `exec` handler.
public struct ExecHandlerSettings: Sendable, Hashable {
    /// The program and its arguments.
    public var command: [String]
    /// Child processes in the pool.
    public var processes: Int
    /// Requests in flight per process (pipelined).
    public var inFlight: Int
    /// Extra environment variables for the children.
    public var environment: [String: String]

    /// Creates settings.
    public init(command: [String], processes: Int = 1, inFlight: Int = 16, environment: [String: String] = [:]) {
        self.command = command
        self.processes = processes
        self.inFlight = inFlight
        self.environment = environment
    }
}
