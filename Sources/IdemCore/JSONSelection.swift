/// The values a few JSON pointers address in a JSON text, found in one pass that checks
/// the whole text as strictly as ``JSONValue/init(parsing:)`` but builds only those values:
/// the rest of the document is scanned, never turned into strings, arrays or objects.
///
/// A message handler that needs `json:/amount` from each body would otherwise build the
/// whole document for one field. When the text is not valid JSON, or a pointer does not
/// resolve, ask ``JSONValue/init(parsing:)`` and ``JSONPointer/resolve(in:)`` for the reason:
/// this type only says that there is one.
public struct JSONSelection: Sendable, Hashable {
    /// The pointers, in the order of ``values(in:)``'s answer.
    public let pointers: [JSONPointer]
    /// Each pointer's tokens as UTF-8 and as array indexes (`nil` where a token is not one).
    private let tokens: [[(utf8: [UInt8], index: Int?)]]

    /// A selection of `pointers`.
    public init(_ pointers: [JSONPointer]) {
        self.pointers = pointers
        tokens = pointers.map { pointer in
            pointer.tokens.map { (Array($0.utf8), JSONPointer.arrayIndex($0)) }
        }
    }

    /// The value each pointer addresses in the JSON text `bytes`, in the order of
    /// ``pointers``; an element is `nil` where its pointer does not resolve. `nil` when
    /// `bytes` is not valid JSON.
    public func values(in bytes: [UInt8]) -> [JSONValue?]? {
        var scanner = JSONScanner(bytes: bytes, selection: self)
        return scanner.scanDocument()
    }

    /// The values of one JSON text in the order of ``pointers``, one per ``next()``: the
    /// text is scanned when the first is asked for, and not at all if none is.
    public struct Reader {
        let selection: JSONSelection
        let bytes: [UInt8]
        var values: [JSONValue?]?
        var scanned = false
        var position = 0

        /// The next pointer's value, or `nil` when the text is not valid JSON or the
        /// pointer does not resolve.
        public mutating func next() -> JSONValue? {
            if !scanned {
                values = selection.values(in: bytes)
                scanned = true
            }
            defer { position += 1 }
            return values?[position]
        }
    }

    /// A ``Reader`` of `bytes`.
    public func reader(of bytes: [UInt8]) -> Reader { Reader(selection: self, bytes: bytes) }

    public static func == (lhs: JSONSelection, rhs: JSONSelection) -> Bool { lhs.pointers == rhs.pointers }

    public func hash(into hasher: inout Hasher) { hasher.combine(pointers) }

    fileprivate func token(_ pointer: Int, _ depth: Int) -> (utf8: [UInt8], index: Int?) {
        tokens[pointer][depth]
    }

    fileprivate func depth(of pointer: Int) -> Int { tokens[pointer].count }
}

/// The scan behind ``JSONSelection``. Any text ``JSONParser`` refuses, it refuses too;
/// the subtrees addressed by a pointer are built by ``JSONParser`` itself.
private struct JSONScanner {
    let bytes: [UInt8]
    let selection: JSONSelection
    var index = 0
    var depth = 0
    var results: [JSONValue?]

    init(bytes: [UInt8], selection: JSONSelection) {
        self.bytes = bytes
        self.selection = selection
        self.results = Array(repeating: nil, count: selection.pointers.count)
    }

    /// Thrown (internally) where the text is not valid JSON.
    struct Invalid: Error {}

    mutating func scanDocument() -> [JSONValue?]? {
        guard Self.isValidUTF8(bytes) else { return nil }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        do {
            skipWhitespace()
            try scanValue(active: Array(selection.pointers.indices), level: 0)
            skipWhitespace()
            guard index == bytes.count else { return nil }
        } catch {
            return nil
        }
        return results
    }

    /// The text is valid UTF-8 (checked once for all of it: outside strings, valid JSON is
    /// ASCII, so this is what checking each string is).
    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        if bytes.allSatisfy({ $0 < 0x80 }) { return true }
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Scans the value at `index`. `active`: the pointers whose first `level` tokens led
    /// here. A pointer that ends here gets the value built; those that go deeper follow it.
    mutating func scanValue(active: [Int], level: Int) throws(Invalid) {
        guard !active.isEmpty else { return try skipValue() }
        if active.contains(where: { selection.depth(of: $0) == level }) {
            var parser = JSONParser(bytes, at: index, depth: depth)
            guard let value = try? parser.parseValueHere() else { throw Invalid() }
            index = parser.position
            for pointer in active {
                results[pointer] = Self.resolve(selection.pointers[pointer].tokens[level...], in: value)
            }
            return
        }
        guard index < bytes.count else { throw Invalid() }
        switch bytes[index] {
        case UInt8(ascii: "{"): try scanObject(active: active, level: level)
        case UInt8(ascii: "["): try scanArray(active: active, level: level)
        default: try skipValue()
        }
    }

    /// The rest of a pointer resolved in a built value, as ``JSONPointer/resolve(in:)`` does.
    static func resolve(_ tokens: ArraySlice<String>, in value: JSONValue) -> JSONValue? {
        var current = value
        for token in tokens {
            switch current {
            case .object:
                guard let next = current[member: token] else { return nil }
                current = next
            case .array(let items):
                guard let position = JSONPointer.arrayIndex(token), position < items.count else { return nil }
                current = items[position]
            default:
                return nil
            }
        }
        return current
    }

    mutating func enter() throws(Invalid) {
        depth += 1
        if depth > JSONParser.maxDepth { throw Invalid() }
    }

    mutating func scanObject(active: [Int], level: Int) throws(Invalid) {
        try enter()
        defer { depth -= 1 }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Invalid() }
            let name = try scanString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw Invalid() }
            index += 1
            skipWhitespace()
            let matching = active.filter { pointer in
                name.matches(selection.token(pointer, level).utf8, in: bytes)
            }
            // A repeated name keeps its last value: what an earlier one found is forgotten.
            for pointer in matching { results[pointer] = nil }
            try scanValue(active: matching, level: level + 1)
            skipWhitespace()
            guard index < bytes.count else { throw Invalid() }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return
            } else {
                throw Invalid()
            }
        }
    }

    mutating func scanArray(active: [Int], level: Int) throws(Invalid) {
        try enter()
        defer { depth -= 1 }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return
        }
        var position = 0
        while true {
            skipWhitespace()
            let matching = active.filter { selection.token($0, level).index == position }
            try scanValue(active: matching, level: level + 1)
            position += 1
            skipWhitespace()
            guard index < bytes.count else { throw Invalid() }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return
            } else {
                throw Invalid()
            }
        }
    }

    /// Checks the value at `index` and moves past it, building nothing.
    mutating func skipValue() throws(Invalid) {
        guard index < bytes.count else { throw Invalid() }
        switch bytes[index] {
        case UInt8(ascii: "{"): try scanObject(active: [], level: 0)
        case UInt8(ascii: "["): try scanArray(active: [], level: 0)
        case UInt8(ascii: "\""): _ = try scanString()
        default:
            // A literal or a number (or not a value): the parser's own rules, and nothing
            // on the heap (a number's text fits a small string).
            var parser = JSONParser(bytes, at: index, depth: depth)
            guard (try? parser.parseValueHere()) != nil else { throw Invalid() }
            index = parser.position
        }
    }

    /// Where a string's content lies, between its quotes.
    struct StringSpan {
        var start: Int
        var end: Int
        /// The content holds an escape (compared through ``JSONParser``).
        var escaped: Bool

        /// Whether the string is `token`.
        func matches(_ token: [UInt8], in bytes: [UInt8]) -> Bool {
            if !escaped {
                return end - start == token.count && bytes[start..<end].elementsEqual(token)
            }
            var parser = JSONParser(bytes, at: start - 1, depth: 0)
            guard case .string(let text)? = try? parser.parseValueHere() else { return false }
            return Array(text.utf8) == token
        }
    }

    /// Checks the string at `index` (control characters, escapes, surrogate pairs) and
    /// moves past it.
    mutating func scanString() throws(Invalid) -> StringSpan {
        index += 1  // opening quote
        let start = index
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return StringSpan(start: start, end: index - 1, escaped: escaped)
            }
            if byte < 0x20 { throw Invalid() }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 1
                guard index < bytes.count else { throw Invalid() }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    var parser = JSONParser(bytes, at: index, depth: depth)
                    guard (try? parser.parseUnicodeEscape()) != nil else { throw Invalid() }
                    index = parser.position
                    continue
                default:
                    throw Invalid()
                }
            }
            index += 1
        }
        throw Invalid()
    }
}
