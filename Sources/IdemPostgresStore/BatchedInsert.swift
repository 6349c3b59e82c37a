/// One `INSERT … VALUES (…)` handler statement for a whole batch instead of one per message.
///
/// A `sql` handler's statement runs once per message. When it is a plain single-row insert,
/// `INSERT INTO t (a, b) VALUES ($1, $2::numeric)`, the same rows can be written by one
/// statement over arrays of the parameters, in the batch's order:
///
/// ```sql
/// INSERT INTO t (a, b) SELECT u.idem_p1, u.idem_p2::numeric
/// FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(idem_p1, idem_p2, idem_n)
/// ORDER BY u.idem_n
/// ```
///
/// Each array is typed with the type PostgreSQL inferred for that parameter of the original
/// statement, so every value is read by the same input function as before. Only statements
/// whose batched form writes the same rows are rewritten: one `VALUES` row, no subquery,
/// `WITH`, `DEFAULT`, `RETURNING` or `DO UPDATE` (a later message's statement would see what
/// an earlier one wrote, or one row could be updated twice), no dollar quoting, no second
/// statement, at least one parameter, no array-typed parameter. Anything else stays one
/// statement per message.
public struct BatchedInsert: Sendable, Hashable {
    /// The statement over arrays: `$n` is the array of the messages' `$n` values.
    public let sql: String
    /// How many parameters (arrays) it takes.
    public let parameterCount: Int

    /// The batched form of `sql`, whose parameters PostgreSQL typed as `parameterTypes`
    /// (one type name per `$n`, as `pg_prepared_statements.parameter_types` gives them), or
    /// `nil` when the statement is not a single-row insert that can be batched safely.
    public init?(sql: String, parameterTypes: [String]) {
        guard !parameterTypes.isEmpty, parameterTypes.allSatisfy({ !$0.hasSuffix("]") && !$0.isEmpty }) else {
            return nil
        }
        var statement = Substring(sql)
        while let last = statement.last, last.isWhitespace || last == ";" {
            if last == ";", statement.dropLast().contains(";") { return nil }
            statement = statement.dropLast()
        }
        guard let tokens = SQLTokenizer.tokens(of: String(statement)) else { return nil }
        var words: [(index: Int, word: String)] = []
        var depth = 0
        var valuesAt: Int?
        var open: Int?
        var close: Int?
        for (index, token) in tokens.enumerated() {
            switch token.kind {
            case .word(let word):
                let upper = word.uppercased()
                if ["SELECT", "WITH", "DEFAULT", "RETURNING", "UPDATE"].contains(upper) { return nil }
                if depth == 0 { words.append((index, upper)) }
                if depth == 0, upper == "VALUES" {
                    guard valuesAt == nil else { return nil }
                    valuesAt = index
                }
            case .open:
                if depth == 0, let valuesAt, open == nil {
                    // The row must follow VALUES directly.
                    guard tokens[(valuesAt + 1)..<index].allSatisfy(\.isBlank) else { return nil }
                    open = index
                }
                depth += 1
            case .close:
                depth -= 1
                guard depth >= 0 else { return nil }
                if depth == 0, open != nil, close == nil { close = index }
            case .comma:
                // A second VALUES row.
                if depth == 0, close != nil { return nil }
            case .semicolon:
                return nil
            case .placeholder(let number):
                guard (1...parameterTypes.count).contains(number) else { return nil }
            case .blank, .quoted, .other:
                break
            }
        }
        guard depth == 0, words.count >= 3, words[0].word == "INSERT", words[1].word == "INTO",
            let valuesAt, let open, let close
        else { return nil }
        // After the row: nothing, or ON CONFLICT … DO NOTHING.
        let after = words.filter { $0.index > close }.map(\.word)
        if !after.isEmpty {
            guard after.count >= 4, after[0] == "ON", after[1] == "CONFLICT", after.suffix(2) == ["DO", "NOTHING"]
            else { return nil }
        }
        let text = { (range: Range<Int>) in tokens[range].map(\.text).joined() }
        let row = tokens[(open + 1)..<close].map { token -> String in
            if case .placeholder(let number) = token.kind { return "u.idem_p\(number)" }
            return token.text
        }.joined()
        let arrays = parameterTypes.enumerated().map { "$\($0.offset + 1)::\($0.element)[]" }
        let columns = (1...parameterTypes.count).map { "idem_p\($0)" } + ["idem_n"]
        self.sql =
            "\(text(0..<valuesAt))SELECT \(row) FROM unnest(\(arrays.joined(separator: ", "))) "
            + "WITH ORDINALITY AS u(\(columns.joined(separator: ", "))) ORDER BY u.idem_n"
            + "\(text((close + 1)..<tokens.count))"
        self.parameterCount = parameterTypes.count
    }
}
