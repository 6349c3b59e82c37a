/// The result of one statement: its columns, its rows as text, and how many rows it
/// affected.
///
/// Values are in PostgreSQL's text format (`true` is `t`, `bytea` is `\x…` hex); a SQL
/// `NULL` is `nil`.
public struct PostgresRows: Sendable, Hashable {
    /// The column names, in order.
    public var columns: [String]
    /// The rows; each has one value per column, `nil` for SQL `NULL`.
    public var rows: [[String?]]
    /// The rows affected by `INSERT`, `UPDATE`, `DELETE`, `MERGE`, `SELECT`, `MOVE`, `FETCH`
    /// or `COPY`, or `nil` for commands that do not report a count.
    public var affectedRows: Int?
    /// The command tag the server sent, such as `INSERT 0 1` or `SELECT 3`.
    public var commandTag: String

    /// Creates a result; the client normally builds these from libpq results.
    public init(columns: [String], rows: [[String?]], affectedRows: Int?, commandTag: String) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
        self.commandTag = commandTag
    }

    /// The number of rows returned.
    public var count: Int { rows.count }

    /// Whether no row was returned.
    public var isEmpty: Bool { rows.isEmpty }

    /// The index of the first column called `name`, if there is one.
    public func columnIndex(named name: String) -> Int? {
        columns.firstIndex(of: name)
    }

    /// The value of column `name` in row `row`; `nil` for SQL `NULL` or an unknown column.
    ///
    /// - Precondition: `row` is a valid row index.
    public func value(_ name: String, inRow row: Int) -> String? {
        guard let column = columnIndex(named: name) else { return nil }
        return rows[row][column]
    }
}
