import CLibPQ
import IdemConcurrency
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One libpq connection to PostgreSQL, owned by an actor that runs every libpq call on its
/// own dedicated thread (a ``ThreadExecutor``), never on Swift's cooperative thread pool.
///
/// ```swift
/// let connection = try await PostgresConnection.connect(
///     url: "postgresql://idem@127.0.0.1:5432/idem", logger: logger)
/// let rows = try await connection.query("SELECT $1::int + 1", ["41"])
/// await connection.close()
/// ```
///
/// Parameters are always sent separately from the statement text, never interpolated.
/// Statements are prepared on first use and executed as prepared statements afterwards
/// (see ``query(_:_:prepared:)``), and ``pipeline(_:)`` sends many statements in one
/// network round trip. A connection runs one statement or pipeline at a time; use several
/// connections (a ``PostgresPool``) for parallelism.
public actor PostgresConnection {
    private let executor: ThreadExecutor
    /// The libpq handle; nil once closed or abandoned.
    var connection: OpaquePointer?
    let info: PostgresConnectionInfo
    let logger: Logger
    private let notices: NoticeSink
    /// The statements prepared on this connection.
    var statementCache: PreparedStatementCache
    /// Why the connection was abandoned after a protocol-level failure; later calls throw it.
    var abandonedBecause: PostgresError?
    /// The depth of ``withTransaction(_:)`` calls, for the names of nested savepoints.
    var transactionDepth = 0

    /// How many statements this connection has sent to the server: each ``query(_:_:prepared:)``
    /// and ``execute(_:)`` call counts one, each statement of a ``pipeline(_:)`` one. Preparing
    /// and deallocating statements does not count.
    public internal(set) var statementsSent = 0

    /// How many times this connection has waited for the server: one per
    /// ``query(_:_:prepared:)`` or ``execute(_:)`` call and one per ``pipeline(_:)``, however
    /// many statements it holds.
    public internal(set) var roundTrips = 0

    /// `host:port` of the server as given in the connection string (or libpq's default).
    public nonisolated var endpoint: String { info.endpoint }

    /// The connection string with its password replaced by `***`, safe to log.
    public nonisolated var redactedURL: String { info.redacted }

    /// Runs this actor on its own thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init(info: PostgresConnectionInfo, statementCacheSize: Int, logger: Logger) {
        self.executor = ThreadExecutor(name: "idem-pg")
        self.info = info
        self.logger = logger
        self.notices = NoticeSink(logger: logger)
        self.statementCache = PreparedStatementCache(capacity: statementCacheSize)
    }

    /// The default number of prepared statements a connection keeps.
    public static let defaultStatementCacheSize = 256

    isolated deinit {
        // Runs on the connection's own thread: close a connection the owner forgot to
        // close, then let that thread end.
        if let connection { PQfinish(connection) }
        executor.shutdown()
    }

    /// Connects to PostgreSQL.
    ///
    /// - Parameters:
    ///   - url: a libpq connection string: a `postgresql://user:password@host:port/db?…`
    ///     URL or `key=value` pairs. Settings in it take precedence over the other
    ///     parameters.
    ///   - connectTimeout: how long to wait for each host to accept the connection (libpq
    ///     `connect_timeout`, whole seconds, at least 2).
    ///   - applicationName: the `application_name` the server shows in `pg_stat_activity`.
    ///   - statementCacheSize: how many prepared statements the connection keeps before it
    ///     deallocates the least recently used; 0 never prepares.
    ///   - logger: receives connection events and server notices.
    /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/invalidConnectionString``
    ///   or ``PostgresError/Kind/connectionFailed`` (the message names host and port).
    public static func connect(
        url: String,
        connectTimeout: Duration = .seconds(10),
        applicationName: String = "idem",
        statementCacheSize: Int = defaultStatementCacheSize,
        logger: Logger
    ) async throws(PostgresError) -> PostgresConnection {
        let info = try PostgresConnectionInfo.parse(url)
        let connection = PostgresConnection(
            info: info, statementCacheSize: statementCacheSize, logger: logger)
        try await connection.open(
            url: url, connectTimeout: connectTimeout, applicationName: applicationName)
        return connection
    }

    private func open(
        url: String, connectTimeout: Duration, applicationName: String
    ) throws(PostgresError) {
        assert(executor.isCurrentThread, "libpq used off the connection's thread")
        let timeoutSeconds = max(2, Int(connectTimeout.components.seconds))
        // Later keywords win: defaults first, then the caller's string expanded from
        // `dbname` so its own settings override the defaults.
        let keywords = ["connect_timeout", "application_name", "dbname"]
        let values = [String(timeoutSeconds), applicationName, url]
        let handle = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let handle else {
            throw PostgresError(
                kind: .connectionFailed,
                message: "could not connect to PostgreSQL at \(info.endpoint): out of memory")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = info.scrub(lastError(handle))
            PQfinish(handle)
            logger.debug(
                "PostgreSQL connection failed",
                metadata: ["endpoint": "\(info.endpoint)", "error": "\(reason)"])
            throw PostgresError(
                kind: .connectionFailed,
                message: "could not connect to PostgreSQL at \(info.endpoint): \(reason)")
        }
        PQsetNoticeReceiver(
            handle, postgresNoticeReceiver, Unmanaged.passUnretained(notices).toOpaque())
        connection = handle
        logger.debug(
            "connected to PostgreSQL",
            metadata: [
                "endpoint": "\(info.endpoint)",
                "server_version": "\(PQserverVersion(handle))",
            ])
    }

    /// Runs one statement with text parameters (`$1`, `$2`, …) and returns its rows, in one
    /// round trip.
    ///
    /// With `prepared` (the default) the statement is prepared on this connection the first
    /// time its SQL text is seen, in the same round trip as its first execution, and the
    /// prepared statement is executed from then on. The connection keeps the most recently
    /// used statements (``connect(url:connectTimeout:applicationName:statementCacheSize:logger:)``)
    /// and deallocates the others. Pass `prepared: false` for one-off statements such as DDL.
    ///
    /// - Parameters:
    ///   - sql: a single SQL statement with `$n` placeholders.
    ///   - params: one value per placeholder, in PostgreSQL text format; `nil` is SQL
    ///     `NULL`. PostgreSQL infers each parameter's type or takes it from a cast
    ///     (`$1::int`).
    ///   - prepared: whether to use the prepared-statement cache.
    /// - Throws: ``PostgresError``; ``PostgresError/Kind/server`` carries the SQLSTATE.
    public func query(_ sql: String, _ params: [String?] = [], prepared: Bool = true)
        async throws(PostgresError) -> PostgresRows
    {
        guard prepared, statementCache.capacity > 0 else {
            return try executeUnprepared(sql, params)
        }
        return try runPipeline([PostgresStatement(sql, params)])[0].get()
    }

    /// One statement with `PQexecParams`: no cache, no pipeline.
    private func executeUnprepared(_ sql: String, _ params: [String?]) throws(PostgresError) -> PostgresRows {
        let handle = try openHandle()
        try checkNoNUL(sql, what: "the SQL text")
        guard params.count <= 65_535 else {
            throw PostgresError(
                kind: .invalidArgument,
                message: "the statement has \(params.count) parameters; PostgreSQL accepts at most 65535")
        }
        for (index, param) in params.enumerated() {
            if let param { try checkNoNUL(param, what: "parameter $\(index + 1)") }
        }
        statementsSent += 1
        roundTrips += 1
        let result = withCStringArray(params) { pointers in
            PQexecParams(handle, sql, Int32(params.count), nil, pointers, nil, nil, 0)
        }
        return try consume(result, handle: handle)
    }

    /// Runs one or more simple commands (`BEGIN`, `COMMIT`, `SET …`, DDL) without
    /// parameters, with the simple query protocol, and returns the result of the last one.
    ///
    /// - Throws: ``PostgresError``; the first failing command stops the rest.
    @discardableResult
    public func execute(_ sql: String) async throws(PostgresError) -> PostgresRows {
        try executeSimple(sql)
    }

    /// ``execute(_:)`` without suspension, for the other methods of the connection.
    @discardableResult
    func executeSimple(_ sql: String) throws(PostgresError) -> PostgresRows {
        let handle = try openHandle()
        try checkNoNUL(sql, what: "the SQL text")
        statementsSent += 1
        roundTrips += 1
        defer { forgetPreparedStatementsIfDropped(by: sql) }
        return try consume(PQexec(handle, sql), handle: handle)
    }

    /// `DISCARD ALL` and `DEALLOCATE` drop prepared statements behind the cache's back:
    /// forget them all, to be prepared again on next use.
    private func forgetPreparedStatementsIfDropped(by sql: String) {
        guard statementCache.count > 0 else { return }
        let words = sql.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "_") }
        if words.contains("deallocate") || words.contains("discard") {
            statementCache.evictAll()
        }
    }

    /// The transaction state of the connection (libpq `PQtransactionStatus`), as of the end
    /// of the last statement.
    public var transactionStatus: PostgresTransactionStatus {
        guard let connection else { return .unknown }
        return PostgresTransactionStatus(PQtransactionStatus(connection))
    }

    /// How many prepared statements the connection's cache holds.
    public var preparedStatementCount: Int { statementCache.count }

    /// Checks, without a round trip, that the server has not closed the connection while it
    /// was idle (for example with `pg_terminate_backend`, or at server shutdown): reads any
    /// input already waiting and returns whether the connection is still healthy.
    ///
    /// A connection pool calls this before it hands out an idle connection.
    public func checkAlive() -> Bool {
        guard let handle = connection, PQstatus(handle) == CONNECTION_OK else { return false }
        assert(executor.isCurrentThread, "libpq used off the connection's thread")
        let socket = PQsocket(handle)
        guard socket >= 0 else { return false }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        // Input on an idle connection: a notice, a notification, or the server's goodbye
        // (a FATAL error such as 57P01, then end of file). Read it, a few times at most, and
        // let libpq parse it; the goodbye reaches the notice receiver.
        for _ in 0..<4 {
            descriptor.revents = 0
            guard poll(&descriptor, 1, 0) > 0 else { break }
            if PQconsumeInput(handle) == 0 { return false }
            _ = PQisBusy(handle)
            if notices.sawFatal || PQstatus(handle) != CONNECTION_OK { return false }
        }
        return !notices.sawFatal && PQstatus(handle) == CONNECTION_OK
    }

    /// Whether the connection is open and libpq considers it healthy.
    ///
    /// libpq notices a broken connection only when it next talks to the server; see
    /// ``checkAlive()`` for a check that reads what the server sent meanwhile.
    public var isConnected: Bool {
        guard let connection else { return false }
        return PQstatus(connection) == CONNECTION_OK && !notices.sawFatal
    }

    /// Prepares the connection for its next user after a pool lease: rolls back a
    /// transaction block left open; returns false when the connection cannot be reused.
    func resetForReuse() -> Bool {
        guard isConnected else { return false }
        switch transactionStatus {
        case .idle:
            return true
        case .inTransaction, .inFailedTransaction:
            logger.warning(
                "a PostgreSQL connection was given back inside a transaction block; rolling it back",
                metadata: ["endpoint": "\(info.endpoint)"])
            do {
                try executeSimple("ROLLBACK")
            } catch {
                return false
            }
            return transactionStatus == .idle
        case .active, .unknown:
            return false
        }
    }

    /// Closes the connection. Later calls throw ``PostgresError/Kind/closed``; closing
    /// twice is harmless.
    public func close() async {
        guard let handle = connection else { return }
        connection = nil
        PQfinish(handle)
        logger.debug("closed PostgreSQL connection", metadata: ["endpoint": "\(info.endpoint)"])
    }

    // MARK: - Internals

    func openHandle() throws(PostgresError) -> OpaquePointer {
        assert(executor.isCurrentThread, "libpq used off the connection's thread")
        guard let connection else {
            if let abandonedBecause { throw abandonedBecause }
            throw PostgresError(
                kind: .closed,
                message: "the PostgreSQL connection to \(info.endpoint) is closed")
        }
        return connection
    }

    /// Gives up on a connection whose protocol state is unknown after `error`: closes it so
    /// that it is never reused, and makes later calls throw `error`.
    func abandon(_ error: PostgresError) -> PostgresError {
        var error = error
        if error.kind != .connectionLost && error.kind != .connectionFailed {
            error = PostgresError(
                kind: .connectionLost,
                message: "abandoned the PostgreSQL connection to \(info.endpoint): \(error.message)",
                sqlState: error.sqlState)
        }
        if let handle = connection {
            connection = nil
            PQfinish(handle)
        }
        abandonedBecause = error
        logger.warning(
            "abandoned PostgreSQL connection",
            metadata: ["endpoint": "\(info.endpoint)", "error": "\(error.message)"])
        return error
    }

    func checkNoNUL(_ text: String, what: String) throws(PostgresError) {
        let hasNUL =
            text.utf8.withContiguousStorageIfAvailable { bytes in
                guard let base = bytes.baseAddress, !bytes.isEmpty else { return false }
                return memchr(base, 0, bytes.count) != nil
            } ?? text.utf8.contains(0)
        if hasNUL {
            throw PostgresError(
                kind: .invalidArgument,
                message: "\(what) contains a NUL byte, which PostgreSQL text cannot hold")
        }
    }

    /// Turns a libpq result into rows or an error, then clears it and drains the rest.
    private func consume(_ result: OpaquePointer?, handle: OpaquePointer) throws(PostgresError)
        -> PostgresRows
    {
        guard let result else {
            throw failure(handle: handle, fallback: "libpq returned no result")
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH {
            abandonCopy(handle: handle, status: status)
            throw PostgresError(
                kind: .unsupportedResult,
                message: "COPY is not supported by this client; the COPY was aborted")
        }
        return try outcome(of: result, handle: handle).get()
    }

    /// Turns a libpq result into rows or an error; the caller clears it.
    func outcome(of result: OpaquePointer, handle: OpaquePointer) -> Result<PostgresRows, PostgresError> {
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return .success(rows(of: result))
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            return .failure(serverError(result, handle: handle))
        case PGRES_PIPELINE_ABORTED:
            return .failure(
                PostgresError(
                    kind: .pipelineAborted,
                    message: "not executed: an earlier statement of the pipeline failed"))
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            return .failure(
                PostgresError(
                    kind: .unsupportedResult,
                    message: "COPY is not supported by this client"))
        default:
            let name = String(cString: PQresStatus(status))
            return .failure(
                PostgresError(
                    kind: .unsupportedResult, message: "unexpected libpq result status \(name)"))
        }
    }

    private func rows(of result: OpaquePointer) -> PostgresRows {
        let columnCount = PQnfields(result)
        let rowCount = PQntuples(result)
        var columns: [String] = []
        columns.reserveCapacity(Int(columnCount))
        for column in 0..<columnCount {
            columns.append(PQfname(result, column).map { String(cString: $0) } ?? "")
        }
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                if PQgetisnull(result, row, column) != 0 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    let bytes = UnsafeRawBufferPointer(
                        start: PQgetvalue(result, row, column), count: length)
                    values.append(String(decoding: bytes, as: UTF8.self))
                }
            }
            rows.append(values)
        }
        let tuples = PQcmdTuples(result).map { String(cString: $0) } ?? ""
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        return PostgresRows(
            columns: columns, rows: rows, affectedRows: Int(tuples), commandTag: tag)
    }

    func serverError(_ result: OpaquePointer, handle: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue,
                let value = PQresultErrorField(result, Int32(ascii))
            else { return nil }
            return info.scrub(String(cString: value))
        }
        let connectionBroken = PQstatus(handle) != CONNECTION_OK
        guard let sqlState = field("C") else {
            // No SQLSTATE: libpq itself failed (lost connection, protocol error).
            var message = String(cString: PQresultErrorMessage(result))
                .trimmingTrailingWhitespace()
            if message.isEmpty { message = lastError(handle) }
            return PostgresError(
                kind: connectionBroken ? .connectionLost : .unsupportedResult,
                message: connectionMessage(info.scrub(message), broken: connectionBroken))
        }
        let primary = field("M") ?? "unknown error"
        return PostgresError(
            kind: connectionBroken ? .connectionLost : .server,
            message: connectionMessage(primary, broken: connectionBroken),
            sqlState: sqlState,
            severity: field("V") ?? field("S"),
            detail: field("D"),
            hint: field("H"),
            schemaName: field("s"),
            tableName: field("t"),
            columnName: field("c"),
            constraintName: field("n")
        )
    }

    func failure(handle: OpaquePointer, fallback: String) -> PostgresError {
        var message = info.scrub(lastError(handle))
        if message.isEmpty { message = fallback }
        let broken = PQstatus(handle) != CONNECTION_OK
        return PostgresError(
            kind: broken ? .connectionLost : .unsupportedResult,
            message: connectionMessage(message, broken: broken))
    }

    private func connectionMessage(_ message: String, broken: Bool) -> String {
        broken ? "lost the PostgreSQL connection to \(info.endpoint): \(message)" : message
    }

    /// Ends a COPY the caller did not ask to handle, leaving the connection usable.
    private func abandonCopy(handle: OpaquePointer, status: ExecStatusType) {
        if status == PGRES_COPY_IN || status == PGRES_COPY_BOTH {
            _ = PQputCopyEnd(handle, "COPY is not supported by this client")
        }
        if status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH {
            var buffer: UnsafeMutablePointer<CChar>?
            while PQgetCopyData(handle, &buffer, 0) > 0 {
                PQfreemem(buffer)
                buffer = nil
            }
        }
        while let next = PQgetResult(handle) { PQclear(next) }
    }

    func lastError(_ handle: OpaquePointer) -> String {
        guard let message = PQerrorMessage(handle) else { return "" }
        return String(cString: message).trimmingTrailingWhitespace()
    }
}

/// Forwards server notices (`RAISE NOTICE`, warnings) to the connection's logger instead of
/// libpq's default of printing them to standard error.
///
/// It also remembers a `FATAL` or `PANIC` message that arrives while the connection is idle:
/// the server's goodbye, which can precede the end of the stream.
private final class NoticeSink: Sendable {
    let logger: Logger
    private let fatal = Mutex(false)
    init(logger: Logger) { self.logger = logger }

    /// Whether the server announced that it is closing the connection.
    var sawFatal: Bool { fatal.withLock { $0 } }

    func recordFatal() { fatal.withLock { $0 = true } }
}

private func postgresNoticeReceiver(
    _ context: UnsafeMutableRawPointer?, _ result: OpaquePointer?
) {
    guard let context, let result else { return }
    let sink = Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue()
    let message = String(cString: PQresultErrorMessage(result)).trimmingTrailingWhitespace()
    let severity =
        PQresultErrorField(result, Int32(UInt8(ascii: "V")))
        .map { String(cString: $0) } ?? "NOTICE"
    if severity == "FATAL" || severity == "PANIC" { sink.recordFatal() }
    if severity == "WARNING" {
        sink.logger.warning("PostgreSQL warning", metadata: ["message": "\(message)"])
    } else {
        sink.logger.debug(
            "PostgreSQL notice", metadata: ["severity": "\(severity)", "message": "\(message)"])
    }
}
