import CLibPQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension PostgresConnection {
    /// Sends `statements` in libpq pipeline mode, in one network round trip, and returns
    /// one result per statement, in order.
    ///
    /// ```swift
    /// let results = try await connection.pipeline([
    ///     PostgresStatement("BEGIN"),
    ///     PostgresStatement("INSERT INTO t (id) VALUES ($1)", ["1"]),
    ///     PostgresStatement("INSERT INTO t (id) VALUES ($1)", ["2"]),
    ///     PostgresStatement("COMMIT"),
    /// ])
    /// ```
    ///
    /// The statements are sent back to back and followed by one synchronisation point; the
    /// server runs them in order. When one fails, its result is that failure and the server
    /// skips the rest: their results are failures of kind
    /// ``PostgresError/Kind/pipelineAborted``. What that means for transactions:
    /// - Inside a transaction block opened earlier (`BEGIN`), the block is then in the
    ///   failed state (``transactionStatus`` is ``PostgresTransactionStatus/inFailedTransaction``):
    ///   roll it back.
    /// - A pipeline that opens its own block (`BEGIN`, …, `COMMIT`) and fails before its
    ///   `COMMIT` leaves that block open in the failed state: roll it back.
    /// - Outside a transaction block, the statements of one pipeline run in one implicit
    ///   transaction, committed at its end: when one fails, the effects of the statements
    ///   before it are rolled back too, although their results are successes.
    ///
    /// Statements marked ``PostgresStatement/prepared`` (the default) use the connection's
    /// prepared-statement cache; a statement seen for the first time is prepared in the same
    /// pipeline, before its first execution. The socket is used in non-blocking mode, so that
    /// a pipeline of any size cannot deadlock with full socket buffers.
    ///
    /// - Returns: one result per statement; an empty pipeline returns `[]` without talking to
    ///   the server.
    /// - Throws: ``PostgresError`` only when nothing was sent (a statement holds a NUL byte
    ///   or more than 65,535 parameters: ``PostgresError/Kind/invalidArgument``; the
    ///   connection is closed: ``PostgresError/Kind/closed``) or when the connection failed
    ///   (``PostgresError/isConnectionFailure``); after such a failure the connection is
    ///   unusable.
    public func pipeline(_ statements: [PostgresStatement]) async throws(PostgresError)
        -> [Result<PostgresRows, PostgresError>]
    {
        try runPipeline(statements)
    }

    /// ``pipeline(_:)`` without suspension: runs entirely on the connection's thread.
    func runPipeline(_ statements: [PostgresStatement]) throws(PostgresError)
        -> [Result<PostgresRows, PostgresError>]
    {
        guard !statements.isEmpty else { return [] }
        let handle = try openHandle()
        try validate(statements)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw abandon(connectionLost(handle, cause: nil))
        }
        let operations = plan(statements, idle: PQtransactionStatus(handle) == PQTRANS_IDLE)

        guard PQenterPipelineMode(handle) == 1 else {
            throw abandon(failure(handle: handle, fallback: "libpq could not enter pipeline mode"))
        }
        guard PQsetnonblocking(handle, 1) == 0 else {
            throw abandon(failure(handle: handle, fallback: "libpq could not enter non-blocking mode"))
        }
        statementsSent += statements.count
        roundTrips += 1
        for operation in operations {
            guard send(operation, statements: statements, handle: handle) else {
                throw abandon(connectionLost(handle, cause: nil))
            }
        }
        let outcomes = try receive(operations, handle: handle)
        guard PQexitPipelineMode(handle) == 1, PQsetnonblocking(handle, 0) == 0 else {
            throw abandon(failure(handle: handle, fallback: "libpq could not leave pipeline mode"))
        }
        return fold(outcomes, of: operations, statements: statements)
    }

    // MARK: - Planning

    private func validate(_ statements: [PostgresStatement]) throws(PostgresError) {
        for (index, statement) in statements.enumerated() {
            let which = statements.count == 1 ? "" : " of statement \(index + 1)"
            try checkNoNUL(statement.sql, what: "the SQL text\(which)")
            guard statement.parameters.count <= 65_535 else {
                throw PostgresError(
                    kind: .invalidArgument,
                    message: "statement\(which) has \(statement.parameters.count) parameters; "
                        + "PostgreSQL accepts at most 65535")
            }
            for (number, parameter) in statement.parameters.enumerated() {
                if let parameter { try checkNoNUL(parameter, what: "parameter $\(number + 1)\(which)") }
            }
        }
    }

    /// The protocol steps for `statements`: first, when the connection is idle, the
    /// deallocation of evicted statements (each in its own implicit transaction, so that a
    /// failure there touches nothing else), then each statement, preceded by its
    /// preparation when it is new, then one sync.
    private func plan(_ statements: [PostgresStatement], idle: Bool) -> [PipelineOperation] {
        var operations: [PipelineOperation] = []
        operations.reserveCapacity(statements.count + 1)
        let pipelineStart = statementCache.now
        var preparing: [String: String] = [:]
        for (index, statement) in statements.enumerated() {
            guard statement.prepared else {
                operations.append(.execute(statement: index, name: nil))
                continue
            }
            if let name = preparing[statement.sql] ?? statementCache.lookup(statement.sql) {
                operations.append(.execute(statement: index, name: name))
            } else if statementCache.makeRoom(reserved: preparing.count, since: pipelineStart) {
                let name = statementCache.makeName()
                preparing[statement.sql] = name
                operations.append(.prepare(name: name, statement: index))
                operations.append(.execute(statement: index, name: name))
            } else {
                // Every cached statement is used by this pipeline: run this one unprepared.
                operations.append(.execute(statement: index, name: nil))
            }
        }
        operations.append(.sync)
        guard idle, !statementCache.pendingDeallocations.isEmpty else { return operations }
        var deallocations: [PipelineOperation] = []
        for name in statementCache.pendingDeallocations {
            deallocations.append(.deallocate(name: name))
            deallocations.append(.sync)
        }
        return deallocations + operations
    }

    private func send(
        _ operation: PipelineOperation, statements: [PostgresStatement], handle: OpaquePointer
    ) -> Bool {
        switch operation {
        case .deallocate(let name):
            return PQsendQueryParams(handle, "DEALLOCATE \(name)", 0, nil, nil, nil, nil, 0) == 1
        case .prepare(let name, let index):
            return PQsendPrepare(handle, name, statements[index].sql, 0, nil) == 1
        case .execute(let index, let name):
            let statement = statements[index]
            let count = Int32(statement.parameters.count)
            let sent = withCStringArray(statement.parameters) { values in
                if let name {
                    return PQsendQueryPrepared(handle, name, count, values, nil, nil, 0)
                }
                return PQsendQueryParams(handle, statement.sql, count, nil, values, nil, nil, 0)
            }
            return sent == 1
        case .sync:
            return PQpipelineSync(handle) == 1
        }
    }

    // MARK: - Receiving

    /// Reads one result per operation, flushing the rest of the pipeline and waiting on the
    /// socket as needed.
    private func receive(_ operations: [PipelineOperation], handle: OpaquePointer) throws(PostgresError)
        -> [Result<PostgresRows, PostgresError>?]
    {
        var outcomes = [Result<PostgresRows, PostgresError>?](repeating: nil, count: operations.count)
        var index = 0
        // Whether operation `index` has delivered its result (libpq then returns NULL).
        var delivered = false
        var unexpectedNulls = 0
        var lastStatement: Int?
        var flushPending = true
        // An error that announced the end of the connection (FATAL, 57P01, …).
        var fatal: PostgresError?
        while index < operations.count {
            if flushPending {
                switch PQflush(handle) {
                case 0: flushPending = false
                case 1: break
                default: throw abandon(connectionLost(handle, cause: fatal))
                }
            }
            while index < operations.count, PQstatus(handle) == CONNECTION_OK, PQisBusy(handle) == 0 {
                guard let result = PQgetResult(handle) else {
                    if delivered {
                        delivered = false
                        index += 1
                    } else {
                        unexpectedNulls += 1
                        if unexpectedNulls > 2 {
                            throw abandon(
                                PostgresError(
                                    kind: .unsupportedResult,
                                    message: "libpq ended the pipeline after \(index) of \(operations.count) results"))
                        }
                    }
                    continue
                }
                unexpectedNulls = 0
                let status = PQresultStatus(result)
                if case .sync = operations[index] {
                    if status == PGRES_PIPELINE_SYNC {
                        index += 1
                        lastStatement = nil
                    } else if case .failure(let error) = outcome(of: result, handle: handle) {
                        // The implicit COMMIT at the sync failed (deferred constraint,
                        // serialization failure) or the server is going away: report it on
                        // the last operation of the segment.
                        if error.isConnectionFailure { fatal = fatal ?? error }
                        if let lastStatement, case .success? = outcomes[lastStatement] {
                            outcomes[lastStatement] = .failure(error)
                        }
                    }
                } else if status == PGRES_PIPELINE_SYNC {
                    PQclear(result)
                    throw abandon(
                        PostgresError(
                            kind: .unsupportedResult,
                            message:
                                "libpq reported the end of the pipeline after \(index) of \(operations.count) results"))
                } else if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH {
                    PQclear(result)
                    throw abandon(
                        PostgresError(
                            kind: .unsupportedResult,
                            message: "COPY is not supported in a pipeline or as a prepared statement"))
                } else if !delivered {
                    let outcome = outcome(of: result, handle: handle)
                    if case .failure(let error) = outcome, error.isConnectionFailure { fatal = fatal ?? error }
                    outcomes[index] = outcome
                    lastStatement = index
                    delivered = true
                }
                PQclear(result)
            }
            if index >= operations.count { break }
            if PQstatus(handle) != CONNECTION_OK {
                throw abandon(connectionLost(handle, cause: fatal))
            }
            try waitForSocket(handle, writable: flushPending, cause: fatal)
        }
        return outcomes
    }

    /// Waits until the server sent something or, with `writable`, until more of the
    /// pipeline can be sent; reads what arrived.
    private func waitForSocket(_ handle: OpaquePointer, writable: Bool, cause: PostgresError?) throws(PostgresError) {
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw abandon(connectionLost(handle, cause: cause)) }
        var events = Int16(POLLIN)
        if writable { events |= Int16(POLLOUT) }
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        let ready = poll(&descriptor, 1, -1)
        if ready < 0 {
            let code = errno
            if code == EINTR { return }
            throw abandon(
                PostgresError(
                    kind: .connectionLost,
                    message: "lost the PostgreSQL connection to \(info.endpoint): poll failed (errno \(code))"))
        }
        let readable = Int16(POLLIN) | Int16(POLLERR) | Int16(POLLHUP)
        if descriptor.revents & readable != 0, PQconsumeInput(handle) == 0 {
            throw abandon(connectionLost(handle, cause: cause))
        }
    }

    /// The error for a connection that broke: the server's own reason when it gave one.
    private func connectionLost(_ handle: OpaquePointer, cause: PostgresError?) -> PostgresError {
        let prefix = "lost the PostgreSQL connection to \(info.endpoint): "
        guard var error = cause else {
            var message = info.scrub(lastError(handle))
            if message.isEmpty { message = "the connection is broken" }
            if !message.hasPrefix(prefix) { message = prefix + message }
            return PostgresError(kind: .connectionLost, message: message)
        }
        error.kind = .connectionLost
        if !error.message.hasPrefix(prefix) { error.message = prefix + error.message }
        return error
    }

    // MARK: - Results

    /// Turns the operations' results into one result per statement and updates the
    /// statement cache: a statement's result is the failure of its preparation, if that
    /// failed, else the result of its execution.
    private func fold(
        _ outcomes: [Result<PostgresRows, PostgresError>?], of operations: [PipelineOperation],
        statements: [PostgresStatement]
    ) -> [Result<PostgresRows, PostgresError>] {
        var results = [Result<PostgresRows, PostgresError>?](repeating: nil, count: statements.count)
        var deallocated: Set<String> = []
        for (operation, outcome) in zip(operations, outcomes) {
            switch operation {
            case .sync:
                continue
            case .deallocate(let name):
                // Done unless skipped; a statement that no longer exists (26000) is done too.
                if case .failure(let error) = outcome, error.kind == .pipelineAborted { continue }
                deallocated.insert(name)
            case .prepare(let name, let index):
                switch outcome {
                case .success?: statementCache.insert(statements[index].sql, name: name)
                case .failure(let error)?: if results[index] == nil { results[index] = .failure(error) }
                case nil: break
                }
            case .execute(let index, let name):
                if results[index] == nil { results[index] = outcome }
                if let name, case .failure(let error)? = outcome {
                    forgetPreparedStatement(statements[index].sql, name: name, after: error)
                }
            }
        }
        if !deallocated.isEmpty { statementCache.deallocated(deallocated) }
        return results.map {
            $0
                ?? .failure(
                    PostgresError(
                        kind: .pipelineAborted, message: "not executed: the pipeline ended before it"))
        }
    }

    /// Drops a cached statement the server can no longer run as prepared: it no longer
    /// exists (26000), or the tables under it changed the shape of its result (0A000,
    /// "cached plan must not change result type"). It is prepared afresh on next use.
    private func forgetPreparedStatement(_ sql: String, name: String, after error: PostgresError) {
        switch error.sqlState {
        case "26000":
            statementCache.remove(sql, deallocate: false)
        case "0A000" where error.message.contains("cached plan"):
            statementCache.remove(sql, deallocate: true)
        default:
            break
        }
    }
}
