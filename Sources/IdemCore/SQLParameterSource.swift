/// Where one parameter of the `sql` handler's statement comes from.
public enum SQLParameterSource: Sendable, Hashable, CustomStringConvertible {
    /// The message ID.
    case id
    /// The body as UTF-8 text.
    case body
    /// The claim's fencing token.
    case fence
    /// The attempt number.
    case attempt
    /// The message's source coordinates (``MessageSource/description``).
    case source
    /// A field of the JSON body; a missing field makes the message poison.
    case json(JSONPointer)
    /// A header; a missing header makes the message poison.
    case header(String)

    /// Parses the configuration form: `id`, `body`, `fence`, `attempt`, `source`,
    /// `json:/pointer` or `header:NAME`.
    public init(parsing text: String) throws(SQLParameterSourceError) {
        switch text {
        case "id": self = .id
        case "body": self = .body
        case "fence": self = .fence
        case "attempt": self = .attempt
        case "source": self = .source
        default:
            if text.hasPrefix("json:") {
                do {
                    self = .json(try JSONPointer(String(text.dropFirst(5))))
                } catch {
                    throw SQLParameterSourceError(text: text, reason: error.reason)
                }
            } else if text.hasPrefix("header:") {
                let name = String(text.dropFirst(7))
                guard !name.isEmpty else {
                    throw SQLParameterSourceError(text: text, reason: "the header name is empty")
                }
                self = .header(name)
            } else {
                throw SQLParameterSourceError(
                    text: text,
                    reason: "expected one of id, body, fence, attempt, source, json:/pointer, header:NAME")
            }
        }
    }

    /// The configuration form.
    public var description: String {
        switch self {
        case .id: return "id"
        case .body: return "body"
        case .fence: return "fence"
        case .attempt: return "attempt"
        case .source: return "source"
        case .json(let pointer): return "json:\(pointer)"
        case .header(let name): return "header:\(name)"
        }
    }
}

/// A `sql` handler parameter that is not one of the known forms.
public struct SQLParameterSourceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The parameter as written.
    public var text: String
    /// What is wrong.
    public var reason: String

    /// `'text': reason`.
    public var description: String { "'\(text)': \(reason)" }
}
