import IdemConcurrency
import Logging

/// A fixed-size pool of ``PostgresConnection``s, opened lazily and leased one caller at a
/// time.
///
/// ```swift
/// let pool = PostgresPool(url: url, size: 4, connectTimeout: .seconds(10), logger: logger)
/// let count = try await pool.withConnection { connection in
///     try await connection.query("SELECT count(*) FROM processed_messages").rows[0][0]
/// }
/// await pool.close()
/// ```
///
/// - Callers beyond `size` wait in arrival order (FIFO); a caller cancelled while waiting
///   stops waiting and throws `CancellationError`.
/// - A connection is opened when a caller needs one and none is idle. Failed attempts are
///   retried with exponential backoff (100 ms doubling to 5 s, with jitter) until
///   `connectTimeout` after the caller asked; then the caller gets the last error, which
///   names host and port.
/// - A connection is replaced when it turns out broken: when a body throws a
///   ``PostgresError`` whose ``PostgresError/isConnectionFailure`` is true, when libpq
///   reports it broken, or when the server closed it while it was idle (checked before each
///   lease without a round trip). A connection given back inside a transaction block is
///   rolled back.
public actor PostgresPool {
    private enum Grant: Sendable {
        /// A connection handed over by the caller that gave it back.
        case connection(PostgresConnection)
        /// The right to open a connection (a slot of `size`).
        case permit
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Grant, any Error>
    }

    private let url: String
    private let connectTimeout: Duration
    private let applicationName: String
    private let statementCacheSize: Int
    private let logger: Logger

    /// The most connections the pool opens.
    public nonisolated let size: Int
    /// `host:port` of the server, for messages.
    public nonisolated let endpoint: String

    private var idle: [PostgresConnection] = []
    private var leased = 0
    private var connecting = 0
    private var waiters: [Waiter] = []
    private var nextWaiterID: UInt64 = 0
    private var isClosed = false

    /// Creates a pool; no connection is opened until a caller needs one.
    ///
    /// - Parameters:
    ///   - url: a libpq connection string (see
    ///     ``PostgresConnection/connect(url:connectTimeout:applicationName:statementCacheSize:logger:)``).
    ///   - size: the most connections open at once (at least 1).
    ///   - connectTimeout: how long a caller keeps retrying to open a connection.
    ///   - applicationName: the `application_name` of the connections in `pg_stat_activity`.
    ///   - statementCacheSize: the prepared-statement cache size of each connection.
    ///   - logger: receives pool and connection events.
    public init(
        url: String,
        size: Int,
        connectTimeout: Duration,
        applicationName: String = "idem",
        statementCacheSize: Int = PostgresConnection.defaultStatementCacheSize,
        logger: Logger
    ) {
        self.url = url
        self.size = max(1, size)
        self.connectTimeout = connectTimeout
        self.applicationName = applicationName
        self.statementCacheSize = statementCacheSize
        self.logger = logger
        self.endpoint = (try? PostgresConnectionInfo.parse(url).endpoint) ?? "(invalid connection string)"
    }

    /// What the pool holds right now.
    public var statistics: PostgresPoolStatistics {
        PostgresPoolStatistics(
            size: size, open: idle.count + leased, idle: idle.count, leased: leased,
            connecting: connecting, waiting: waiters.count)
    }

    /// Leases a connection, runs `body` with it and gives it back, even when `body` throws.
    ///
    /// The body has the connection to itself until it returns; it must not keep it.
    ///
    /// - Throws: the body's error; a ``PostgresError`` when no connection could be opened
    ///   within the pool's `connectTimeout` (kind ``PostgresError/Kind/connectionFailed``,
    ///   naming host and port) or the pool is closed (``PostgresError/Kind/closed``);
    ///   `CancellationError` when the task is cancelled while it waits.
    public func withConnection<T: Sendable>(
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection = try await lease()
        let value: T
        do {
            value = try await body(connection)
        } catch {
            await giveBack(connection, after: error)
            throw error
        }
        await giveBack(connection, after: nil)
        return value
    }

    /// Closes the idle connections and makes waiting and later callers throw
    /// ``PostgresError/Kind/closed``; leased connections are closed when given back.
    /// Closing twice is harmless.
    public func close() async {
        guard !isClosed else { return }
        isClosed = true
        let waiting = waiters
        waiters.removeAll()
        for waiter in waiting { waiter.continuation.resume(throwing: closedError()) }
        let connections = idle
        idle.removeAll()
        for connection in connections { await connection.close() }
    }

    // MARK: - Leasing

    private func lease() async throws -> PostgresConnection {
        let deadline = ContinuousClock.now + connectTimeout
        if isClosed { throw closedError() }
        try Task.checkCancellation()
        var grant: Grant
        if waiters.isEmpty, let connection = idle.popLast() {
            leased += 1
            grant = .connection(connection)
        } else if waiters.isEmpty, idle.count + leased + connecting < size {
            connecting += 1
            grant = .permit
        } else {
            grant = try await wait()
        }
        while true {
            switch grant {
            case .connection(let connection):
                if Task.isCancelled {
                    handOver(connection)
                    throw CancellationError()
                }
                if await connection.checkAlive() { return connection }
                logger.info(
                    "replacing a PostgreSQL connection the server closed",
                    metadata: ["endpoint": "\(endpoint)"])
                leased -= 1
                connecting += 1
                await connection.close()
                grant = .permit
            case .permit:
                let connection: PostgresConnection
                do {
                    try Task.checkCancellation()
                    connection = try await open(deadline: deadline)
                } catch {
                    connecting -= 1
                    slotFreed()
                    throw error
                }
                connecting -= 1
                leased += 1
                if isClosed {
                    leased -= 1
                    await connection.close()
                    throw closedError()
                }
                return connection
            }
        }
    }

    /// Waits in line for a connection or for the right to open one.
    private func wait() async throws -> Grant {
        let id = nextWaiterID
        nextWaiterID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters.append(Waiter(id: id, continuation: continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    /// Passes a healthy leased connection to the first waiter, or makes it idle.
    private func handOver(_ connection: PostgresConnection) {
        if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: .connection(connection))
        } else {
            leased -= 1
            idle.append(connection)
        }
    }

    /// A slot became free (a connection closed or could not be opened): the first waiter
    /// may open a connection.
    private func slotFreed() {
        guard !isClosed, !waiters.isEmpty else { return }
        connecting += 1
        waiters.removeFirst().continuation.resume(returning: .permit)
    }

    private func giveBack(_ connection: PostgresConnection, after error: (any Error)?) async {
        var reusable = !isClosed
        if let error = error as? PostgresError, error.isConnectionFailure {
            logger.info(
                "replacing a PostgreSQL connection after a connection failure",
                metadata: ["endpoint": "\(endpoint)", "error": "\(error.message)"])
            reusable = false
        }
        if reusable { reusable = await connection.resetForReuse() }
        if reusable && !isClosed {
            handOver(connection)
            return
        }
        leased -= 1
        slotFreed()
        await connection.close()
    }

    // MARK: - Connecting

    /// Opens a connection, retrying with exponential backoff until `deadline` (at least
    /// one attempt).
    private func open(deadline: ContinuousClock.Instant) async throws -> PostgresConnection {
        let clock = ContinuousClock()
        let started = clock.now
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5))
        var attempts = 0
        while true {
            attempts += 1
            do throws(PostgresError) {
                return try await PostgresConnection.connect(
                    url: url, connectTimeout: deadline - clock.now, applicationName: applicationName,
                    statementCacheSize: statementCacheSize, logger: logger)
            } catch {
                if error.kind == .invalidConnectionString { throw error }
                let now = clock.now
                guard now < deadline else {
                    throw gaveUp(error, attempts: attempts, after: now - started)
                }
                let pause = min(backoff.next() * Double.random(in: 0.5...1.0), deadline - now)
                logger.debug(
                    "PostgreSQL connection attempt failed; retrying",
                    metadata: [
                        "endpoint": "\(endpoint)", "attempt": "\(attempts)", "error": "\(error.message)",
                        "retry_in": "\(pause)",
                    ])
                try await Task.sleep(for: pause)
            }
        }
    }

    private func gaveUp(_ error: PostgresError, attempts: Int, after elapsed: Duration) -> PostgresError {
        var error = error
        let tenths = elapsed.components.seconds * 10 + elapsed.components.attoseconds / 100_000_000_000_000_000
        let attemptsText = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
        error.message += " (gave up after \(attemptsText) in \(tenths / 10).\(tenths % 10) s)"
        if !error.message.contains(endpoint) {
            error.message = "could not connect to PostgreSQL at \(endpoint): " + error.message
        }
        return error
    }

    private func closedError() -> PostgresError {
        PostgresError(kind: .closed, message: "the PostgreSQL connection pool for \(endpoint) is closed")
    }
}
