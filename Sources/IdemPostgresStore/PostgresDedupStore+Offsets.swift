import IdemConsumerKit
import IdemCore
import IdemPostgres

/// Offset mode: one row per lane of a log (a Kafka partition) holding its next offset,
/// written in the handler's transaction (docs/design.md, "offset dedup for Kafka").
extension PostgresDedupStore {
    public func processOffsets(
        consumer: String, _ requests: [ClaimRequest], poison: [Int: PoisonReason], maxAttempts: Int,
        handler: any MessageHandler
    ) async throws(DedupStoreError) -> [TransactionalOutcome] {
        guard let first = requests.first else { return [] }
        guard let position = first.message.source.position else {
            throw .failed("offset mode needs records with a log position, and \(first.message.source.kind) has none")
        }
        let (topic, partition) = (position.stream, position.lane)
        var decided: [Int: HandlerResult] = [:]
        while true {
            let attempt: OffsetAttempt
            do {
                attempt = try await pool.withConnection { connection in
                    try await runOffsetTransaction(
                        connection: connection, consumer: consumer, topic: topic, partition: partition,
                        requests: requests, poison: poison, maxAttempts: maxAttempts, handler: handler,
                        decided: decided)
                }
            } catch let error as DedupStoreError {
                throw error
            } catch {
                throw Self.storeError(error)
            }
            switch attempt {
            case .committed(let outcomes): return outcomes
            case .statementFailed(let index, let result): decided[index] = result
            }
        }
    }

    public func releaseDeadOffset(consumer: String, at position: LogPosition) async throws(DedupStoreError) {
        do {
            _ = try await pool.withConnection { connection in
                try await connection.query(
                    sql.offsetRelease,
                    [consumer, position.stream, String(position.lane), String(position.offset)])
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    public func storedOffsets(consumer: String, stream topic: String) async throws(DedupStoreError) -> [Int32: Int64] {
        let rows: PostgresRows
        do {
            rows = try await pool.withConnection { connection in
                try await connection.query(sql.offsetsOfTopic, [consumer, topic])
            }
        } catch {
            throw Self.storeError(error)
        }
        var offsets: [Int32: Int64] = [:]
        for row in rows.rows {
            guard let partition = row[0].flatMap({ Int32($0) }), let offset = row[1].flatMap({ Int64($0) }) else {
                continue
            }
            offsets[partition] = offset
        }
        return offsets
    }

    public func storeResumeOffset(
        consumer: String, stream: String, lane: Int32, next: Int64
    ) async throws(DedupStoreError) {
        do {
            _ = try await pool.withConnection { connection in
                try await connection.query(sql.resumeOffsetStore, [consumer, stream, String(lane), String(next)])
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    private enum OffsetAttempt: Sendable {
        case committed([TransactionalOutcome])
        /// A fast-path statement failed: rolled back, tried again with that record decided.
        case statementFailed(index: Int, result: HandlerResult)
    }

    private func runOffsetTransaction(
        connection: PostgresConnection, consumer: String, topic: String, partition: Int32,
        requests: [ClaimRequest], poison: [Int: PoisonReason], maxAttempts: Int, handler: any MessageHandler,
        decided: [Int: HandlerResult]
    ) async throws -> OffsetAttempt {
        let key = [consumer, topic, String(partition)]
        // Round trip 1: begin, make sure the partition's row exists, lock and read it.
        let head = try await connection.pipeline([
            PostgresStatement("BEGIN"),
            PostgresStatement(sql.offsetRowEnsure, key),
            PostgresStatement(sql.offsetRowLock, key),
        ])
        let row: [String?]
        do {
            _ = try head[1].get()
            guard let locked = try head[2].get().rows.first else { throw DedupStoreError.failed("offset row missing") }
            row = locked
        } catch {
            try? await connection.rollback()
            throw error
        }
        let next = row[0].flatMap { Int64($0) } ?? -1
        let storedAttempts = row[1].flatMap { Int($0) } ?? 0
        let storedDead = row[2] == "t"
        let storedError = row[3] ?? ""

        var outcomes = [TransactionalOutcome](repeating: .deferred, count: requests.count)
        /// Where processing stops, and the row state it leaves.
        var stop: (index: Int, attempts: Int, dead: Bool, error: String)?
        var toRun: [(index: Int, attempt: Int)] = []
        for (index, request) in requests.enumerated() {
            guard let offset = request.message.source.position?.offset else { continue }
            if offset < next {
                outcomes[index] = .notClaimed(.duplicate)
                continue
            }
            if offset == next && storedDead {
                outcomes[index] = .notClaimed(.deadLettered(attempts: storedAttempts, lastError: storedError))
                stop = (index, storedAttempts, true, storedError)
                break
            }
            let attempt = offset == next ? storedAttempts + 1 : 1
            if let reason = poison[index] {
                outcomes[index] = .poison(reason)
                stop = (index, attempt, true, reason.description)
                break
            }
            if let result = decided[index] {
                outcomes[index] = .handled(result, attempt: attempt)
                stop = Self.stop(index, result, attempt: attempt, maxAttempts: maxAttempts)
                if stop != nil { break }
                continue
            }
            toRun.append((index, attempt))
        }

        if let statementHandler = handler as? any StatementHandler {
            var calls: [(index: Int, call: SQLCall)] = []
            for (index, attempt) in toRun {
                let request = requests[index]
                let context = HandlerContext(
                    consumer: consumer, id: request.id, fence: 0, attempt: attempt, transaction: nil)
                switch statementHandler.statement(for: request.message, context: context) {
                case .success(let call):
                    calls.append((index, call))
                    outcomes[index] = .handled(.success, attempt: attempt)
                case .failure(let reason):
                    outcomes[index] = .poison(reason)
                    stop = (index, attempt, true, reason.description)
                }
                if stop != nil { break }
            }
            // Records after the stop take no effect.
            if let stop {
                calls.removeAll { $0.index > stop.index }
                for index in (stop.index + 1)..<requests.count { outcomes[index] = .deferred }
            }
            var statements: [PostgresStatement] = []
            let positions = Self.appendHandlerStatements(
                calls.map(\.call), timeout: statementHandler.statementTimeout, to: &statements)
            statements.append(storeRow(key, requests: requests, next: next, stop: stop))
            statements.append(PostgresStatement("COMMIT"))
            let results = try await connection.pipeline(statements)
            if let (call, error) = try await Self.failedCall(in: results, calls: positions, connection: connection) {
                let verdict = statementHandler.result(forError: error.sqlState, message: error.message)
                return .statementFailed(index: calls[call].index, result: verdict)
            }
            return .committed(outcomes)
        }

        // Any other handler: a savepoint per record; the first that does not succeed stops.
        let transaction = PostgresHandlerTransaction(connection: connection)
        for (index, attempt) in toRun {
            if let stop, index > stop.index { break }
            let request = requests[index]
            let context = HandlerContext(
                consumer: consumer, id: request.id, fence: 0, attempt: attempt, transaction: transaction)
            try await connection.savepoint("idem_message")
            let result: HandlerResult
            do {
                result = try await handler.handle(request.message, context: context)
            } catch let error as PostgresError where error.isTransactionRetryable || error.isConnectionFailure {
                try? await connection.rollback()
                throw error
            } catch {
                result = .retry(String(describing: error))
            }
            outcomes[index] = .handled(result, attempt: attempt)
            if case .success = result {
                try await connection.release(savepoint: "idem_message")
                continue
            }
            try await connection.rollback(toSavepoint: "idem_message")
            stop = Self.stop(index, result, attempt: attempt, maxAttempts: maxAttempts)
            break
        }
        if let stop {
            for index in (stop.index + 1)..<requests.count { outcomes[index] = .deferred }
        }
        for result in try await connection.pipeline([
            storeRow(key, requests: requests, next: next, stop: stop), PostgresStatement("COMMIT"),
        ]) {
            if case .failure(let error) = result {
                try? await connection.rollback()
                throw error
            }
        }
        return .committed(outcomes)
    }

    /// Where a result that is not a success stops the batch: a transient failure with
    /// attempts left (retried there), or a dead record.
    private static func stop(
        _ index: Int, _ result: HandlerResult, attempt: Int, maxAttempts: Int
    ) -> (index: Int, attempts: Int, dead: Bool, error: String)? {
        switch result {
        case .success: return nil
        case .retry(let reason): return (index, attempt, attempt >= maxAttempts, reason)
        case .reject(let reason): return (index, attempt, true, reason)
        }
    }

    /// The partition row after the batch: past the last record, or at the stop.
    private func storeRow(
        _ key: [String], requests: [ClaimRequest], next: Int64,
        stop: (index: Int, attempts: Int, dead: Bool, error: String)?
    ) -> PostgresStatement {
        func offset(_ index: Int) -> Int64 {
            requests[index].message.source.position?.offset ?? next
        }
        if let stop {
            return PostgresStatement(
                sql.offsetRowStore,
                key + [
                    String(offset(stop.index)), String(stop.attempts), stop.dead ? "true" : "false",
                    Self.truncated(stop.error),
                ])
        }
        return PostgresStatement(
            sql.offsetRowStore, key + [String(max(next, offset(requests.count - 1) + 1)), "0", "false", nil])
    }
}
