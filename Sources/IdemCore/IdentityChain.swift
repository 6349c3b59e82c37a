import Crypto

/// A consumer's ordered list of ID sources, and the derivation of a message's ID from it.
public struct IdentityChain: Sendable, Hashable {
    /// The longest ID accepted, in bytes of UTF-8; a longer one makes the message poison.
    public static let maximumIDLength = 512

    /// The sources, tried in order.
    public let sources: [IDSource]

    /// Creates a chain; it must name at least one source.
    public init(_ sources: [IDSource]) {
        precondition(!sources.isEmpty, "an identity chain needs at least one source")
        self.sources = sources
        self.jsonSelection = JSONSelection(
            sources.compactMap { source in
                if case .json(let pointer) = source { return pointer }
                return nil
            })
    }

    /// The `json:` sources' pointers, in order: found in one scan of the body.
    private let jsonSelection: JSONSelection

    /// The outcome of deriving a message's ID.
    public enum Derivation: Sendable, Hashable {
        /// The first source that yielded a value, and the value.
        case identified(MessageID)
        /// No usable ID: the message is poison.
        case poison(PoisonReason)
    }

    /// Derives the message's ID: the first source that yields a value wins. That value must
    /// be at most ``maximumIDLength`` bytes, or the message is poison (the chain does not fall
    /// through to a later source, since that would silently change the message's identity).
    public func derive(_ message: Message) -> Derivation {
        var notes: [String] = []
        var parsedBody: Result<JSONValue, JSONParseError>?
        var json = jsonSelection.reader(of: message.body)
        for source in sources {
            let outcome: Result<String, Note>
            if case .json = source {
                if let value = json.next() {
                    outcome = Self.scalarID(value)
                } else {
                    // Not JSON, or no such field: the full parse says which.
                    outcome = Self.value(of: source, in: message, parsedBody: &parsedBody)
                }
            } else {
                outcome = Self.value(of: source, in: message, parsedBody: &parsedBody)
            }
            switch outcome {
            case .success(let value):
                let length = value.utf8.count
                guard length <= Self.maximumIDLength else {
                    return .poison(.idTooLong(source: source, length: length, limit: Self.maximumIDLength))
                }
                return .identified(MessageID(value, source: source))
            case .failure(let note):
                notes.append("\(source): \(note.text)")
            }
        }
        return .poison(.noIdentity(notes: notes))
    }

    /// SHA-256 of `bytes`, lowercase hex: the `content_hash` ID and the stored payload hash.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).withUnsafeBytes { UTF8Text.hex($0) }
    }

    private struct Note: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }

    private static func value(
        of source: IDSource, in message: Message, parsedBody: inout Result<JSONValue, JSONParseError>?
    ) -> Result<String, Note> {
        switch source {
        case .messageId:
            guard message.source.features.contains(.messageIDProperty) else {
                return .failure(Note("\(message.source.kind) messages have no message-id property"))
            }
            return nonEmpty(message.properties.messageId, absent: "absent")
        case .header(let name):
            guard let value = message.headers[name] else { return .failure(Note("absent")) }
            guard let text = value.identityText else {
                return .failure(Note("not a text, number or UTF-8 value"))
            }
            return nonEmpty(text, absent: "empty")
        case .key:
            guard message.source.features.contains(.recordKey) else {
                return .failure(Note("\(message.source.kind) messages have no record key"))
            }
            guard let key = message.key else { return .failure(Note("absent")) }
            guard let text = UTF8Text.decode(key) else {
                return .failure(Note("not valid UTF-8 (or holds NUL)"))
            }
            return nonEmpty(text, absent: "empty")
        case .offset:
            guard let position = message.source.position else {
                return .failure(Note("\(message.source.kind) messages have no log position"))
            }
            return .success(position.description)
        case .json(let pointer):
            if parsedBody == nil {
                parsedBody = Result { () throws(JSONParseError) in try JSONValue(parsing: message.body) }
            }
            switch parsedBody! {
            case .failure(let error):
                return .failure(Note("body is not JSON: \(error)"))
            case .success(let document):
                switch pointer.resolve(in: document) {
                case .failure(let error):
                    return .failure(Note(error.reason))
                case .success(let value):
                    return scalarID(value)
                }
            }
        case .contentHash:
            return .success(sha256Hex(message.body))
        }
    }

    /// A JSON value as an ID: a string, number or boolean, not empty.
    private static func scalarID(_ value: JSONValue) -> Result<String, Note> {
        guard let text = value.scalarText else {
            return .failure(Note("is \(value.typeName), not a string, number or boolean"))
        }
        return nonEmpty(text, absent: "empty")
    }

    private static func nonEmpty(_ text: String?, absent: String) -> Result<String, Note> {
        guard let text, !text.isEmpty else { return .failure(Note(absent)) }
        guard !text.utf8.contains(0) else { return .failure(Note("holds a NUL character")) }
        return .success(text)
    }
}
