/// An AMQP 0-9-1 field table: message headers, queue and exchange arguments, consumer
/// arguments.
///
/// The entries keep the order they were received or built in (and are sent in that order),
/// but two tables are equal when they hold the same keys with the same values in any
/// order: AMQP gives the order no meaning, and a broker may reorder a table it rewrites.
///
/// ```swift
/// var headers: AMQPTable = ["tenant": "acme", "attempt": .i32(1)]
/// headers["x-idem-reason"] = "poison"
/// let tenant = headers["tenant"]?.stringValue
/// ```
public struct AMQPTable: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral,
    CustomStringConvertible
{
    /// The entries, in order. Keys are at most 255 bytes of UTF-8 when sent.
    public var entries: [(key: String, value: AMQPFieldValue)]

    /// An empty table.
    public init() {
        entries = []
    }

    /// A table of `entries`, in that order.
    public init(_ entries: [(key: String, value: AMQPFieldValue)]) {
        self.entries = entries
    }

    /// A table of the dictionary's entries, keys sorted so that the wire order is stable.
    public init(_ dictionary: [String: AMQPFieldValue]) {
        entries = dictionary.keys.sorted().map { (key: $0, value: dictionary[$0]!) }
    }

    /// A table of text values, keys sorted so that the wire order is stable.
    public init(strings: [String: String]) {
        entries = strings.keys.sorted().map { (key: $0, value: .utf8(strings[$0]!)) }
    }

    /// A table from a literal, entries in literal order.
    public init(dictionaryLiteral elements: (String, AMQPFieldValue)...) {
        entries = elements.map { (key: $0.0, value: $0.1) }
    }

    /// The value of the first entry named `key`. Setting replaces that entry's value in
    /// place (or appends a new entry); setting `nil` removes every entry named `key`.
    public subscript(key: String) -> AMQPFieldValue? {
        get { entries.first { $0.key == key }?.value }
        set {
            guard let newValue else {
                entries.removeAll { $0.key == key }
                return
            }
            if let index = entries.firstIndex(where: { $0.key == key }) {
                entries[index].value = newValue
            } else {
                entries.append((key: key, value: newValue))
            }
        }
    }

    /// The keys, in order.
    public var keys: [String] { entries.map(\.key) }

    /// The number of entries.
    public var count: Int { entries.count }

    /// Whether the table has no entries.
    public var isEmpty: Bool { entries.isEmpty }

    /// Iterates over the entries in order.
    public func makeIterator() -> IndexingIterator<[(key: String, value: AMQPFieldValue)]> {
        entries.makeIterator()
    }

    /// Whether both tables hold the same keys with the same values, in any order.
    public static func == (lhs: AMQPTable, rhs: AMQPTable) -> Bool {
        lhs.entries.count == rhs.entries.count && lhs.grouped == rhs.grouped
    }

    /// Hashes the entries independently of their order.
    public func hash(into hasher: inout Hasher) {
        let grouped = self.grouped
        hasher.combine(grouped.count)
        for key in grouped.keys.sorted() {
            hasher.combine(key)
            hasher.combine(grouped[key]!)
        }
    }

    /// `[key: value, …]` in order.
    public var description: String {
        if entries.isEmpty { return "[:]" }
        return "[" + entries.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "]"
    }

    /// The values of each key, duplicates in order.
    private var grouped: [String: [AMQPFieldValue]] {
        var result: [String: [AMQPFieldValue]] = [:]
        for entry in entries { result[entry.key, default: []].append(entry.value) }
        return result
    }
}
