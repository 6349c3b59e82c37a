import IdemCore

/// One response line of the exec protocol: `{"id": "...", "result": "ok" | "retry" |
/// "reject", "error": "optional reason"}`.
struct ExecResponse: Sendable, Equatable {
    /// The ID of the request it answers.
    var id: String
    /// What the handler said.
    var result: HandlerResult

    /// Creates a response.
    init(id: String, result: HandlerResult) {
        self.id = id
        self.result = result
    }

    /// Parses a response line (without its newline); throws the reason it is not one.
    init(parsing line: UnsafeBufferPointer<UInt8>) throws(ExecProtocolError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: line)
        } catch {
            throw ExecProtocolError("not JSON (\(error))")
        }
        guard case .object = value else {
            throw ExecProtocolError("a JSON \(value.typeName), not an object")
        }
        guard case .string(let id)? = value[member: "id"] else {
            throw ExecProtocolError(#"no "id" string"#)
        }
        let error: String?
        switch value[member: "error"] {
        case nil, .null?: error = nil
        case .string(let text)?: error = text
        case let other?: throw ExecProtocolError(#""error" is a \#(other.typeName), not a string"#)
        }
        switch value[member: "result"] {
        case .string("ok")?:
            result = .success
        case .string("retry")?:
            result = .retry(error ?? "exec handler asked for a retry")
        case .string("reject")?:
            result = .reject(error ?? "exec handler rejected the message")
        case .string(let other)?:
            throw ExecProtocolError(#"unknown result "\#(other)" (expected ok, retry or reject)"#)
        case nil:
            throw ExecProtocolError(#"no "result""#)
        case let other?:
            throw ExecProtocolError(#""result" is a \#(other.typeName), not a string"#)
        }
        self.id = id
    }

    /// Whether `line` holds nothing but whitespace (such lines are ignored).
    static func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }

    /// A printable excerpt of `line` for error messages: at most `limit` bytes.
    static func excerpt(_ line: UnsafeBufferPointer<UInt8>, limit: Int = 200) -> String {
        let text = String(decoding: line.prefix(limit), as: UTF8.self)
        return line.count > limit ? text + "…" : text
    }
}
