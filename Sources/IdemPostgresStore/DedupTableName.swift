import IdemConsumerKit

/// The dedup table's name, split and quoted for use in SQL text.
///
/// The configuration only accepts `[A-Za-z_][A-Za-z0-9_]*`, optionally schema-qualified, so
/// the quoted form can never carry SQL of its own.
public struct DedupTableName: Sendable, Hashable, CustomStringConvertible {
    /// The schema, if the name was qualified.
    public let schema: String?
    /// The table's own name.
    public let table: String

    /// Splits `name` (`table` or `schema.table`).
    public init(_ name: String) {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 2 {
            schema = parts[0]
            table = parts[1]
        } else {
            schema = nil
            table = name
        }
    }

    /// The name as configured.
    public var description: String { schema.map { "\($0).\(table)" } ?? table }

    /// `"schema"."table"` or `"table"`.
    public var quoted: String { qualify(table) }

    /// Another object in the same schema, quoted: `"schema"."name"`.
    public func qualify(_ name: String) -> String {
        let quotedName = "\"\(name)\""
        return schema.map { "\"\($0)\".\(quotedName)" } ?? quotedName
    }

    /// The quoted name of an index or constraint on the table (never schema-qualified).
    public func objectName(_ suffix: String) -> String {
        "\"\(table)_\(suffix)\""
    }
}
