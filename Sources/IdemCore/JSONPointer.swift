/// An RFC 6901 JSON pointer, such as `/order/id` or `/items/0/sku`.
///
/// `~1` in a reference token stands for `/` and `~0` for `~`; the empty pointer `""`
/// refers to the whole document.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// The unescaped reference tokens, in order.
    public let tokens: [String]
    /// The pointer as written.
    public let description: String

    /// Parses a pointer; it must be empty or start with `/`, and `~` must be followed by
    /// `0` or `1`.
    public init(_ text: String) throws(JSONPointerError) {
        description = text
        guard !text.isEmpty else {
            tokens = []
            return
        }
        guard text.hasPrefix("/") else {
            throw JSONPointerError(pointer: text, reason: "a JSON pointer must start with '/'")
        }
        var tokens: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var iterator = raw.makeIterator()
            while let character = iterator.next() {
                guard character == "~" else {
                    token.append(character)
                    continue
                }
                switch iterator.next() {
                case "0": token.append("~")
                case "1": token.append("/")
                default:
                    throw JSONPointerError(
                        pointer: text, reason: "'~' must be followed by '0' or '1' (RFC 6901)")
                }
            }
            tokens.append(token)
        }
        self.tokens = tokens
    }

    /// Resolves the pointer in `document`, or explains why it does not resolve.
    public func resolve(in document: JSONValue) -> Result<JSONValue, JSONPointerError> {
        var current = document
        for (depth, token) in tokens.enumerated() {
            let prefix = "/" + tokens[..<depth].map(Self.escape).joined(separator: "/")
            switch current {
            case .object:
                guard let next = current[member: token] else {
                    return .failure(
                        JSONPointerError(pointer: description, reason: "no member '\(token)'"))
                }
                current = next
            case .array(let items):
                guard let position = Self.arrayIndex(token), position < items.count else {
                    return .failure(
                        JSONPointerError(
                            pointer: description,
                            reason:
                                "'\(token)' is not an index of the \(items.count)-element array at \(depth == 0 ? "the root" : prefix)"
                        ))
                }
                current = items[position]
            default:
                return .failure(
                    JSONPointerError(
                        pointer: description,
                        reason: "\(depth == 0 ? "the root" : prefix) is a \(current.typeName), not an object or array"))
            }
        }
        return .success(current)
    }

    /// `token` as an array index: digits without a leading zero (RFC 6901), or `nil`.
    static func arrayIndex(_ token: String) -> Int? {
        guard !token.isEmpty, token.allSatisfy(\.isASCII), token.allSatisfy(\.isNumber) else { return nil }
        guard token == "0" || !token.hasPrefix("0") else { return nil }
        return Int(token)
    }

    private static func escape(_ token: String) -> String {
        var out = ""
        for character in token {
            switch character {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.append(character)
            }
        }
        return out
    }
}

/// A JSON pointer that is malformed or does not resolve in a document.
public struct JSONPointerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The pointer as written.
    public var pointer: String
    /// What is wrong.
    public var reason: String

    /// Creates an error for `pointer`.
    public init(pointer: String, reason: String) {
        self.pointer = pointer
        self.reason = reason
    }

    /// `json pointer '/a/b': reason`.
    public var description: String { "JSON pointer '\(pointer)': \(reason)" }
}
