import CLibPQ
import IdemConcurrency
import Logging

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
/// Parameters are always sent separately from the statement text (`PQexecParams`), never
/// interpolated. A connection runs one statement at a time; use several connections for
/// parallelism.
public actor PostgresConnection {
    private let executor: ThreadExecutor
    private var connection: OpaquePointer?
    private let info: PostgresConnectionInfo
    private let logger: Logger
    private let notices: NoticeSink

    /// `host:port` of the server as given in the connection string (or libpq's default).
    public nonisolated var endpoint: String { info.endpoint }

    /// The connection string with its password replaced by `***`, safe to log.
    public nonisolated var redactedURL: String { info.redacted }

    /// Runs this actor on its own thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init(info: PostgresConnectionInfo, logger: Logger) {
        self.executor = ThreadExecutor(name: "idem-pg")
        self.info = info
        self.logger = logger
        self.notices = NoticeSink(logger: logger)
    }

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
    ///   - logger: receives connection events and server notices.
    /// - Throws: ``PostgresError`` of kind ``PostgresError/Kind/invalidConnectionString``
    ///   or ``PostgresError/Kind/connectionFailed`` (the message names host and port).
    public static func connect(
        url: String,
        connectTimeout: Duration = .seconds(10),
        applicationName: String = "idem",
        logger: Logger
    ) async throws(PostgresError) -> PostgresConnection {
        let info = try PostgresConnectionInfo.parse(url)
        let connection = PostgresConnection(info: info, logger: logger)
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

    /// Runs one statement with text parameters (`$1`, `$2`, …) and returns its rows.
    ///
    /// - Parameters:
    ///   - sql: a single SQL statement with `$n` placeholders.
    ///   - params: one value per placeholder, in PostgreSQL text format; `nil` is SQL
    ///     `NULL`. PostgreSQL infers each parameter's type or takes it from a cast
    ///     (`$1::int`).
    /// - Throws: ``PostgresError``; ``PostgresError/Kind/server`` carries the SQLSTATE.
    public func query(_ sql: String, _ params: [String?] = []) async throws(PostgresError)
        -> PostgresRows
    {
        let handle = try openHandle()
        try checkNoNUL(sql, what: "the SQL text")
        for (index, param) in params.enumerated() {
            if let param { try checkNoNUL(param, what: "parameter $\(index + 1)") }
        }
        let result = withCStringArray(params) { pointers in
            PQexecParams(handle, sql, Int32(params.count), nil, pointers, nil, nil, 0)
        }
        return try consume(result, handle: handle)
    }

    /// Runs one or more simple commands (`BEGIN`, `COMMIT`, `SET …`, DDL) without
    /// parameters and returns the result of the last one.
    ///
    /// - Throws: ``PostgresError``; the first failing command stops the rest.
    @discardableResult
    public func execute(_ sql: String) async throws(PostgresError) -> PostgresRows {
        let handle = try openHandle()
        try checkNoNUL(sql, what: "the SQL text")
        return try consume(PQexec(handle, sql), handle: handle)
    }

    /// Whether the connection is open and libpq considers it healthy.
    ///
    /// libpq notices a broken connection only when it next talks to the server.
    public var isConnected: Bool {
        guard let connection else { return false }
        return PQstatus(connection) == CONNECTION_OK
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

    private func openHandle() throws(PostgresError) -> OpaquePointer {
        assert(executor.isCurrentThread, "libpq used off the connection's thread")
        guard let connection else {
            throw PostgresError(
                kind: .closed,
                message: "the PostgreSQL connection to \(info.endpoint) is closed")
        }
        return connection
    }

    private func checkNoNUL(_ text: String, what: String) throws(PostgresError) {
        if text.utf8.contains(0) {
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
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return rows(of: result)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            throw serverError(result, handle: handle)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            abandonCopy(handle: handle, status: status)
            throw PostgresError(
                kind: .unsupportedResult,
                message: "COPY is not supported by this client; the COPY was aborted")
        default:
            let name = String(cString: PQresStatus(status))
            throw PostgresError(
                kind: .unsupportedResult, message: "unexpected libpq result status \(name)")
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

    private func serverError(_ result: OpaquePointer, handle: OpaquePointer) -> PostgresError {
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

    private func failure(handle: OpaquePointer, fallback: String) -> PostgresError {
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

    private func lastError(_ handle: OpaquePointer) -> String {
        guard let message = PQerrorMessage(handle) else { return "" }
        return String(cString: message).trimmingTrailingWhitespace()
    }
}

/// Forwards server notices (`RAISE NOTICE`, warnings) to the connection's logger instead of
/// libpq's default of printing them to standard error.
private final class NoticeSink: Sendable {
    let logger: Logger
    init(logger: Logger) { self.logger = logger }
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
    if severity == "WARNING" {
        sink.logger.warning("PostgreSQL warning", metadata: ["message": "\(message)"])
    } else {
        sink.logger.debug(
            "PostgreSQL notice", metadata: ["severity": "\(severity)", "message": "\(message)"])
    }
}
