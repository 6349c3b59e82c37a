import IdemConsumerKit
import IdemCore
import IdemPostgres
import Logging

/// The dedup protocol of docs/design.md over PostgreSQL.
///
/// Transactional batches cost two round trips when the handler is a ``StatementHandler``
/// (claim; handler statements, outcomes and COMMIT pipelined), whatever the batch size;
/// a single-row `INSERT` handler statement runs once for the whole batch, over arrays
/// (``BatchedInsert``). Other handlers get a savepoint per message. Claims take their rows in sorted ID order,
/// so that concurrent batches cannot deadlock on each other.
public struct PostgresDedupStore: DedupStore {
    public let pool: PostgresPool
    public let sql: DedupStatements
    public let logger: Logger
    /// The handler statements that run once per batch.
    public let batchedInserts: BatchedInsertCache

    /// Creates a store on `pool` for the dedup table `table`.
    public init(pool: PostgresPool, table: DedupTableName, logger: Logger) {
        self.pool = pool
        self.sql = DedupStatements(table: table)
        self.logger = logger
        self.batchedInserts = BatchedInsertCache(logger: logger)
    }

    // MARK: Transactional mode

    public func processTransactionally(
        consumer: String, _ requests: [ClaimRequest], maxAttempts: Int, handler: any MessageHandler, keepOrder: Bool
    ) async throws(DedupStoreError) -> [TransactionalOutcome] {
        var outcomes = [TransactionalOutcome?](repeating: nil, count: requests.count)
        // A batch can hold the same ID twice: the first copy is claimed, the others are
        // duplicates of it (or payload conflicts with it).
        var first: [String: Int] = [:]
        var unique: [Int] = []
        for (index, request) in requests.enumerated() {
            if let earlier = first[request.id.value] {
                let stored = requests[earlier].payloadHash
                outcomes[index] = .notClaimed(
                    stored == request.payloadHash ? .duplicate : .payloadConflict(storedHash: stored))
            } else {
                first[request.id.value] = index
                unique.append(index)
            }
        }
        let sorted = unique.sorted { requests[$0].id < requests[$1].id }
        // Failures found on an earlier try: decided without running again.
        var decided: [Int: HandlerResult] = [:]
        // keepOrder: per lane, the first message that failed transiently with attempts
        // left; those after it in its lane are left out of the transaction.
        let lanes = keepOrder ? requests.map(\.lane) : []
        var cutoffs: [OrderingLane: Int] = [:]
        func isCut(_ index: Int) -> Bool {
            guard keepOrder, let cutoff = cutoffs[lanes[index]] else { return false }
            return index > cutoff
        }
        // Whether the handler statement may run once for the batch; off after the batched
        // form failed, to find the message that fails (or to learn that the form does).
        var batching = true
        var batchFailure: (sql: String, error: String)?
        while true {
            let ordered = cutoffs.isEmpty ? sorted : sorted.filter { !isCut($0) }
            let attempt: TransactionAttempt
            do {
                attempt = try await pool.withConnection { connection in
                    try await runTransaction(
                        connection: connection, consumer: consumer, requests: requests, ordered: ordered,
                        maxAttempts: maxAttempts, handler: handler, decided: decided,
                        stopAtTransientFailure: keepOrder, batching: batching)
                }
            } catch let error as DedupStoreError {
                throw error
            } catch {
                throw Self.storeError(error)
            }
            switch attempt {
            case .committed(let results):
                if let batchFailure, decided.isEmpty {
                    batchedInserts.batchedFormFailed(batchFailure.sql, error: batchFailure.error)
                }
                for (index, outcome) in results { outcomes[index] = outcome }
                for index in requests.indices where isCut(index) { outcomes[index] = .deferred }
                return outcomes.map { $0! }
            case .messageFailed(let index, let result, let attempt):
                decided[index] = result
                if keepOrder, case .retry = result, attempt < maxAttempts {
                    cutoffs[lanes[index]] = min(cutoffs[lanes[index]] ?? index, index)
                }
            case .batchFailed(let sql, let error):
                batching = false
                batchFailure = (sql, error)
            }
        }
    }

    private enum TransactionAttempt: Sendable {
        case committed([Int: TransactionalOutcome])
        /// A message failed in a way that needs the transaction run again without it: a
        /// fast-path statement failed for a message-specific reason, or (keeping order) a
        /// handler failed transiently. The transaction was rolled back and is tried again
        /// with that message decided.
        case messageFailed(index: Int, result: HandlerResult, attempt: Int)
        /// The handler statement's batched form failed: the transaction was rolled back and
        /// is tried again with one statement per message.
        case batchFailed(sql: String, error: String)
    }

    private struct Claimed: Sendable {
        var attempt: Int
        var fence: Int64
    }

    private func runTransaction(
        connection: PostgresConnection, consumer: String, requests: [ClaimRequest], ordered: [Int],
        maxAttempts: Int, handler: any MessageHandler, decided: [Int: HandlerResult], stopAtTransientFailure: Bool,
        batching: Bool
    ) async throws -> TransactionAttempt {
        // Before the transaction: whether the handler statement has a batched form (its
        // lookup is a query of its own).
        var batchedForm: (sql: String, form: BatchedInsert)?
        if batching, ordered.count >= 2, let statementHandler = handler as? any StatementHandler,
            let text = statementHandler.batchableSQL,
            let form = await batchedInserts.form(for: text, on: connection)
        {
            batchedForm = (text, form)
        }
        // Round trip 1: begin and claim. The state of the IDs not claimed is looked up in
        // the next round trip, which also carries the handler's statements and the COMMIT:
        // in READ COMMITTED that later statement sees rows that concurrent claimers
        // committed while this claim waited for them.
        let claimResults = try await connection.pipeline([
            PostgresStatement("BEGIN"),
            claimStatement(consumer: consumer, requests: ordered.map { requests[$0] }, status: "done", lease: nil),
        ])
        let claimRows: PostgresRows
        do {
            claimRows = try claimResults[1].get()
        } catch {
            try? await connection.rollback()
            throw error
        }
        let claimed = Self.claimedRows(claimRows)
        var results: [Int: TransactionalOutcome] = [:]
        let unclaimed = ordered.filter { claimed[requests[$0].id.value] == nil }
        let lookup =
            unclaimed.isEmpty ? nil : lookupStatement(consumer: consumer, ids: unclaimed.map { requests[$0].id.value })
        /// Fills in the outcomes of the IDs not claimed from the lookup's rows.
        func resolveUnclaimed(_ rows: PostgresRows) {
            let states = Self.lookupRows(rows)
            for index in unclaimed {
                results[index] = .notClaimed(
                    Self.notClaimedResult(states[requests[index].id.value], request: requests[index]))
            }
        }
        // Handlers run in the order of the batch (claims took their rows in ID order).
        let claimedIndexes = ordered.filter { claimed[requests[$0].id.value] != nil }.sorted()
        var marks: [(id: String, status: String, error: String)] = []
        func fail(_ index: Int, _ result: HandlerResult, attempt: Int) {
            switch result {
            case .success:
                return
            case .retry(let reason):
                marks.append((requests[index].id.value, attempt >= maxAttempts ? "dead" : "failed", reason))
            case .reject(let reason):
                marks.append((requests[index].id.value, "dead", reason))
            }
            results[index] = .handled(result, attempt: attempt)
        }

        if let statementHandler = handler as? any StatementHandler {
            var calls: [(index: Int, call: SQLCall)] = []
            for index in claimedIndexes {
                let request = requests[index]
                let claim = claimed[request.id.value]!
                if let result = decided[index] {
                    fail(index, result, attempt: claim.attempt)
                    continue
                }
                let context = HandlerContext(
                    consumer: consumer, id: request.id, fence: claim.fence, attempt: claim.attempt, transaction: nil)
                switch statementHandler.statement(for: request.message, context: context) {
                case .success(let call):
                    calls.append((index, call))
                    results[index] = .handled(.success, attempt: claim.attempt)
                case .failure(let poison):
                    marks.append((request.id.value, "dead", poison.description))
                    results[index] = .poison(poison)
                }
            }
            var statements = lookup.map { [$0] } ?? []
            var handlerCalls = calls.map(\.call)
            var batched = false
            if let batchedForm, handlerCalls.count >= 2,
                handlerCalls.allSatisfy({
                    $0.sql == batchedForm.sql && $0.parameters.count == batchedForm.form.parameterCount
                })
            {
                let arrays = (0..<batchedForm.form.parameterCount).map { position in
                    PostgresConnection.encodeTextArray(handlerCalls.map { $0.parameters[position] })
                }
                handlerCalls = [SQLCall(sql: batchedForm.form.sql, parameters: arrays)]
                batched = true
            }
            let positions = Self.appendHandlerStatements(
                handlerCalls, timeout: statementHandler.statementTimeout, to: &statements)
            if !marks.isEmpty { statements.append(markStatement(consumer: consumer, marks: marks)) }
            statements.append(PostgresStatement("COMMIT"))
            let outcome = try await connection.pipeline(statements)
            if let (call, error) = try await Self.failedCall(in: outcome, calls: positions, connection: connection) {
                if batched, let batchedForm { return .batchFailed(sql: batchedForm.sql, error: error.message) }
                let verdict = statementHandler.result(forError: error.sqlState, message: error.message)
                let index = calls[call].index
                return .messageFailed(
                    index: index, result: verdict, attempt: claimed[requests[index].id.value]?.attempt ?? 1)
            }
            if lookup != nil { resolveUnclaimed(try outcome[0].get()) }
            return .committed(results)
        }

        // Any other handler: a savepoint per message, the handler's own statements in between.
        if let lookup {
            do {
                resolveUnclaimed(try await connection.query(lookup.sql, lookup.parameters))
            } catch {
                try? await connection.rollback()
                throw error
            }
        }
        let transaction = PostgresHandlerTransaction(connection: connection)
        for index in claimedIndexes {
            let request = requests[index]
            let claim = claimed[request.id.value]!
            let context = HandlerContext(
                consumer: consumer, id: request.id, fence: claim.fence, attempt: claim.attempt,
                transaction: transaction)
            if let result = decided[index] {
                // Decided on an earlier try (keeping order): not run again.
                fail(index, result, attempt: claim.attempt)
                continue
            }
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
            if case .success = result {
                try await connection.release(savepoint: "idem_message")
                results[index] = .handled(.success, attempt: claim.attempt)
            } else if stopAtTransientFailure, case .retry = result, claim.attempt < maxAttempts {
                // Keeping order: nothing after this message may take effect before it.
                try? await connection.rollback()
                return .messageFailed(index: index, result: result, attempt: claim.attempt)
            } else {
                try await connection.rollback(toSavepoint: "idem_message")
                fail(index, result, attempt: claim.attempt)
            }
        }
        var statements: [PostgresStatement] = []
        if !marks.isEmpty { statements.append(markStatement(consumer: consumer, marks: marks)) }
        statements.append(PostgresStatement("COMMIT"))
        for result in try await connection.pipeline(statements) {
            if case .failure(let error) = result {
                try? await connection.rollback()
                throw error
            }
        }
        return .committed(results)
    }

    // MARK: Lease mode

    public func claimLeases(
        consumer: String, _ requests: [ClaimRequest], lease: Duration
    ) async throws(DedupStoreError) -> [ClaimResult] {
        var results = [ClaimResult?](repeating: nil, count: requests.count)
        var first: [String: Int] = [:]
        var unique: [Int] = []
        var copies: [(index: Int, first: Int)] = []
        for index in requests.indices {
            if let earlier = first[requests[index].id.value] {
                copies.append((index, earlier))
            } else {
                first[requests[index].id.value] = index
                unique.append(index)
            }
        }
        let ordered = unique.sorted { requests[$0].id < requests[$1].id }
        let ids = ordered.map { requests[$0].id.value }
        let rows: (PostgresRows, PostgresRows)
        do {
            rows = try await pool.withConnection { connection in
                let results = try await connection.pipeline([
                    claimStatement(
                        consumer: consumer, requests: ordered.map { requests[$0] }, status: "processing", lease: lease),
                    lookupStatement(consumer: consumer, ids: ids),
                ])
                return (try results[0].get(), try results[1].get())
            }
        } catch {
            throw Self.storeError(error)
        }
        let claimed = Self.claimedRows(rows.0)
        let lookup = Self.lookupRows(rows.1)
        for index in ordered {
            let request = requests[index]
            if let claim = claimed[request.id.value] {
                results[index] = .claimed(attempt: claim.attempt, fence: claim.fence)
            } else {
                results[index] = Self.notClaimedResult(lookup[request.id.value], request: request)
            }
        }
        for copy in copies {
            switch results[copy.first]! {
            case .claimed:
                // The first copy in this batch took the lease: this one is its duplicate (or
                // a payload conflict with it), as in transactional mode.
                let firstHash = requests[copy.first].payloadHash
                results[copy.index] =
                    requests[copy.index].payloadHash == firstHash ? .duplicate : .payloadConflict(storedHash: firstHash)
            case .duplicate, .payloadConflict:
                results[copy.index] = Self.notClaimedResult(
                    lookup[requests[copy.index].id.value], request: requests[copy.index])
            case let other:
                results[copy.index] = other
            }
        }
        return results.map { $0! }
    }

    public func complete(consumer: String, id: MessageID, fence: Int64) async throws(DedupStoreError) -> Bool {
        try await updateOne(sql.complete, [consumer, id.value, String(fence)])
    }

    public func recordFailure(
        consumer: String, id: MessageID, fence: Int64, lastError: String, final: Bool
    ) async throws(DedupStoreError) -> Bool {
        try await updateOne(
            sql.recordFailure, [consumer, id.value, String(fence), lastError, final ? "dead" : "failed"])
    }

    public func finishLeases(consumer: String, _ outcomes: [LeaseOutcome]) async throws(DedupStoreError) -> Set<String>
    {
        guard !outcomes.isEmpty else { return [] }
        // In ID order, as claims take rows, so that concurrent batches cannot deadlock.
        let sorted = outcomes.sorted { $0.id < $1.id }
        let rows: PostgresRows
        do {
            rows = try await pool.withConnection { connection in
                try await connection.query(
                    sql.finishLeases,
                    [
                        consumer, PostgresConnection.encodeTextArray(sorted.map(\.id.value)),
                        PostgresConnection.encodeInt64Array(sorted.map(\.fence)),
                        PostgresConnection.encodeTextArray(sorted.map(\.status.rawValue)),
                        PostgresConnection.encodeTextArray(sorted.map { $0.error.map(Self.truncated) }),
                    ])
            }
        } catch {
            throw Self.storeError(error)
        }
        return Set(rows.rows.compactMap { $0.first ?? nil })
    }

    public func confirmDeadLetters(consumer: String, ids: [MessageID]) async throws(DedupStoreError) {
        guard !ids.isEmpty else { return }
        do {
            _ = try await pool.withConnection { connection in
                try await connection.query(
                    sql.confirmDeadLetters, [consumer, PostgresConnection.encodeTextArray(ids.map(\.value))])
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    public func firstSeen(consumer: String, ids: [MessageID]) async throws(DedupStoreError) -> [String: UInt64] {
        guard !ids.isEmpty else { return [:] }
        let rows: PostgresRows
        do {
            rows = try await pool.withConnection { connection in
                try await connection.query(
                    sql.firstSeen, [consumer, PostgresConnection.encodeTextArray(ids.map(\.value))])
            }
        } catch {
            throw Self.storeError(error)
        }
        var seen: [String: UInt64] = [:]
        for row in rows.rows {
            guard let id = row[0], let seconds = row[1].flatMap({ UInt64($0) }) else { continue }
            seen[id] = seconds
        }
        return seen
    }

    public func probe() async throws(DedupStoreError) {
        do {
            _ = try await pool.withConnection { connection in try await connection.query("SELECT 1") }
        } catch {
            throw Self.storeError(error)
        }
    }

    public func deleteExpired(
        consumer: String, olderThan age: Duration, batchSize: Int
    ) async throws(DedupStoreError) -> Int {
        let retention = DedupRetention(pool: pool, table: sql.table)
        let cutoff = try await retention.cutoff(age: age)
        return try await retention.deleteExpired(
            consumer: consumer, statuses: DedupRetention.sweptStatuses, before: cutoff, batchSize: batchSize)
    }

    private func updateOne(_ statement: String, _ parameters: [String?]) async throws(DedupStoreError) -> Bool {
        do {
            return try await pool.withConnection { connection in
                try await connection.query(statement, parameters).affectedRows == 1
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    // MARK: Statements and rows

    private func claimStatement(
        consumer: String, requests: [ClaimRequest], status: String, lease: Duration?
    ) -> PostgresStatement {
        PostgresStatement(
            sql.claim,
            [
                consumer,
                PostgresConnection.encodeTextArray(requests.map(\.id.value)),
                PostgresConnection.encodeTextArray(requests.map(\.payloadHash)),
                PostgresConnection.encodeTextArray(requests.map(\.source)),
                status,
                lease.map { String($0.seconds) },
            ])
    }

    private func lookupStatement(consumer: String, ids: [String]) -> PostgresStatement {
        PostgresStatement(sql.lookup, [consumer, PostgresConnection.encodeTextArray(ids)])
    }

    private func markStatement(
        consumer: String, marks: [(id: String, status: String, error: String)]
    ) -> PostgresStatement {
        PostgresStatement(
            sql.markOutcomes,
            [
                consumer,
                PostgresConnection.encodeTextArray(marks.map(\.id)),
                PostgresConnection.encodeTextArray(marks.map(\.status)),
                PostgresConnection.encodeTextArray(marks.map { Self.truncated($0.error) }),
            ])
    }

    /// Appends a `StatementHandler`'s statements for a batch to `statements`, bracketed by its
    /// timeout when it has one: PostgreSQL cancels any one statement that runs longer (each
    /// Execute of a pipeline has its own timer), and LOCAL ends with the transaction.
    /// Returns the positions of the calls in `statements`.
    public static func appendHandlerStatements(
        _ calls: [SQLCall], timeout: Duration?, to statements: inout [PostgresStatement]
    ) -> Range<Int> {
        let timeout = calls.isEmpty ? nil : timeout
        if let timeout {
            statements.append(PostgresStatement("SET LOCAL statement_timeout = \(milliseconds(timeout))"))
        }
        let first = statements.count
        statements += calls.map { PostgresStatement($0.sql, $0.parameters) }
        let positions = first..<statements.count
        if timeout != nil { statements.append(PostgresStatement("SET LOCAL statement_timeout = 0")) }
        return positions
    }

    /// The first failure of a pipelined batch, after rolling back: the index of the handler
    /// call it belongs to and the error, or `nil` when every statement succeeded. A failure
    /// that is not one call's own (a store statement, a deadlock, a lost connection) is
    /// thrown.
    public static func failedCall(
        in results: [Result<PostgresRows, PostgresError>], calls: Range<Int>, connection: PostgresConnection
    ) async throws -> (call: Int, error: PostgresError)? {
        for (position, result) in results.enumerated() {
            guard case .failure(let error) = result else { continue }
            try? await connection.rollback()
            guard calls.contains(position), !error.isTransactionRetryable, !error.isConnectionFailure else {
                throw error
            }
            return (position - calls.lowerBound, error)
        }
        return nil
    }

    /// Whole milliseconds, at least 1 (0 would mean no timeout).
    public static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// Errors are kept to 4 KiB in the table.
    public static func truncated(_ text: String) -> String {
        guard text.utf8.count > 4096 else { return text }
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: 4096)
        while !text.isValidIndex(end) { end = text.utf8.index(before: end) }
        return String(text[..<end]) + "…"
    }

    private static func claimedRows(_ rows: PostgresRows) -> [String: Claimed] {
        var claimed: [String: Claimed] = [:]
        for row in rows.rows {
            guard let id = row[0], let attempt = row[1].flatMap({ Int($0) }), let fence = row[2].flatMap({ Int64($0) })
            else { continue }
            claimed[id] = Claimed(attempt: attempt, fence: fence)
        }
        return claimed
    }

    private struct RowState {
        var status: String
        var payloadHash: String?
        var attempts: Int
        var lastError: String
        var remaining: Double
        /// A `dead` row whose dead letter the broker confirmed.
        var confirmed: Bool
    }

    private static func lookupRows(_ rows: PostgresRows) -> [String: RowState] {
        var states: [String: RowState] = [:]
        for row in rows.rows {
            guard let id = row[0], let status = row[1] else { continue }
            states[id] = RowState(
                status: status, payloadHash: row[2], attempts: row[3].flatMap { Int($0) } ?? 0,
                lastError: row[4] ?? "", remaining: row[5].flatMap { Double($0) } ?? 0, confirmed: row[6] == "t")
        }
        return states
    }

    private static func notClaimedResult(_ state: RowState?, request: ClaimRequest) -> ClaimResult {
        guard let state else {
            // The row vanished between claim and lookup (a retention sweep): try again soon.
            return .held(remaining: .zero)
        }
        switch state.status {
        case "done":
            if let stored = state.payloadHash, stored != request.payloadHash {
                return .payloadConflict(storedHash: stored)
            }
            return .duplicate
        case "dead":
            if state.confirmed { return .deadLetterConfirmed }
            return .deadLettered(attempts: state.attempts, lastError: state.lastError)
        default:
            // "processing" under a live lease (or "failed" taken by a concurrent claim).
            return .held(remaining: .milliseconds(Int64(state.remaining * 1000)))
        }
    }

    public static func storeError(_ error: any Error) -> DedupStoreError {
        if let error = error as? DedupStoreError { return error }
        guard let error = error as? PostgresError else { return .failed(String(describing: error)) }
        if error.isConnectionFailure { return .unavailable(error.description) }
        if error.isTransactionRetryable { return .conflict(error.description) }
        return .failed(error.description)
    }
}

extension String {
    fileprivate func isValidIndex(_ index: String.Index) -> Bool {
        index.samePosition(in: unicodeScalars) != nil
    }
}
