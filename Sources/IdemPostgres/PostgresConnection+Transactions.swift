extension PostgresConnection {
    /// Opens a transaction block (`BEGIN`).
    public func begin() async throws(PostgresError) {
        try executeSimple("BEGIN")
    }

    /// Commits the open transaction block (`COMMIT`).
    ///
    /// - Throws: ``PostgresError``; also when the block had failed, in which case the
    ///   server rolls it back instead of committing (it answers `ROLLBACK`): the error then
    ///   has SQLSTATE `25P02` (in failed SQL transaction).
    public func commit() async throws(PostgresError) {
        let result = try executeSimple("COMMIT")
        if result.commandTag == "ROLLBACK" {
            throw PostgresError(
                kind: .server,
                message: "the transaction was rolled back, not committed, because a statement in it had failed",
                sqlState: "25P02",
                severity: "ERROR")
        }
    }

    /// Rolls the open transaction block back (`ROLLBACK`). Without an open block (for
    /// example after a failed `COMMIT`, which ends the block) nothing is sent, so that a
    /// defensive rollback costs nothing and logs no warning.
    public func rollback() async throws(PostgresError) {
        _ = try openHandle()
        guard transactionStatus != .idle else { return }
        try executeSimple("ROLLBACK")
    }

    /// Sets a savepoint in the open transaction block (`SAVEPOINT name`).
    ///
    /// - Parameter name: an SQL identifier: ASCII letters, digits and `_`, not starting
    ///   with a digit, at most 63 characters.
    /// - Throws: ``PostgresError/Kind/invalidArgument`` for any other name.
    public func savepoint(_ name: String) async throws(PostgresError) {
        try executeSimple("SAVEPOINT \(try Self.checkedIdentifier(name))")
    }

    /// Undoes everything since the savepoint `name` (`ROLLBACK TO SAVEPOINT name`); the
    /// savepoint stays, and a failed transaction block becomes usable again.
    public func rollback(toSavepoint name: String) async throws(PostgresError) {
        try executeSimple("ROLLBACK TO SAVEPOINT \(try Self.checkedIdentifier(name))")
    }

    /// Forgets the savepoint `name`, keeping what was done since (`RELEASE SAVEPOINT name`).
    public func release(savepoint name: String) async throws(PostgresError) {
        try executeSimple("RELEASE SAVEPOINT \(try Self.checkedIdentifier(name))")
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws and
    /// rethrows its error.
    ///
    /// ```swift
    /// let id = try await connection.withTransaction { connection in
    ///     try await connection.query("INSERT INTO t DEFAULT VALUES RETURNING id").rows[0][0]
    /// }
    /// ```
    ///
    /// Called while a transaction block is already open, it nests: it sets a savepoint,
    /// releases it on success and rolls back to it on error. Nothing else may use the
    /// connection meanwhile (lease it from a ``PostgresPool`` for that).
    ///
    /// - Throws: the body's error (after the rollback); a ``PostgresError`` when the
    ///   transaction cannot begin or commit (see ``commit()``), including when a failed
    ///   transaction block is already open (SQLSTATE `25P02`).
    public func withTransaction<T: Sendable>(
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let status = transactionStatus
        if status == .inFailedTransaction {
            throw PostgresError(
                kind: .server,
                message: "cannot start a transaction inside a failed transaction block; roll it back first",
                sqlState: "25P02",
                severity: "ERROR")
        }
        let savepoint: String? = status == .inTransaction ? "idem_tx_\(transactionDepth + 1)" : nil
        if let savepoint {
            try executeSimple("SAVEPOINT \(savepoint)")
        } else {
            try executeSimple("BEGIN")
        }
        transactionDepth += 1
        defer { transactionDepth -= 1 }
        let value: T
        do {
            value = try await body(self)
        } catch {
            undo(savepoint: savepoint, after: error)
            throw error
        }
        if let savepoint {
            try executeSimple("RELEASE SAVEPOINT \(savepoint)")
        } else {
            try await commit()
        }
        return value
    }

    /// Rolls back after `error` failed a ``withTransaction(_:)`` body; a failure to roll
    /// back is logged, not thrown, so that the body's error is the one the caller sees.
    private func undo(savepoint: String?, after error: any Error) {
        guard isConnected, transactionStatus != .idle else { return }
        do throws(PostgresError) {
            if let savepoint {
                try executeSimple("ROLLBACK TO SAVEPOINT \(savepoint)")
                try executeSimple("RELEASE SAVEPOINT \(savepoint)")
            } else {
                try executeSimple("ROLLBACK")
            }
        } catch let rollbackError {
            logger.warning(
                "could not roll back after a failed transaction body",
                metadata: [
                    "endpoint": "\(info.endpoint)",
                    "error": "\(rollbackError.message)",
                    "body_error": "\(String(describing: error))",
                ])
        }
    }

    /// `name` if it is a plain SQL identifier, which needs no quoting.
    static func checkedIdentifier(_ name: String) throws(PostgresError) -> String {
        let bytes = Array(name.utf8)
        let valid =
            !bytes.isEmpty && bytes.count <= 63
            && bytes.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
            }
            && !(bytes[0] >= UInt8(ascii: "0") && bytes[0] <= UInt8(ascii: "9"))
        guard valid else {
            throw PostgresError(
                kind: .invalidArgument,
                message: "invalid savepoint name \"\(name)\": use ASCII letters, digits and _ "
                    + "(not starting with a digit), at most 63 characters")
        }
        return name
    }
}
