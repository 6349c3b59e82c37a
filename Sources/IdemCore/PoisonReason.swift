/// Why a message cannot be processed at all and goes straight to the dead letters.
public enum PoisonReason: Error, Sendable, Hashable, CustomStringConvertible {
    /// No ID source yielded a value; one note per source says why.
    case noIdentity(notes: [String])
    /// The first ID found is longer than the limit.
    case idTooLong(source: IDSource, length: Int, limit: Int)
    /// The body is larger than the consumer's limit.
    case bodyTooLarge(size: Int, limit: Int)
    /// A value the handler needs is missing or cannot be read (e.g. a `json:` parameter of
    /// the `sql` handler).
    case undecodable(String)

    /// The machine-readable reason for the `x-idem-reason` header.
    public var code: String {
        switch self {
        case .noIdentity: return "poison:no-id"
        case .idTooLong: return "poison:id-too-long"
        case .bodyTooLarge: return "poison:body-too-large"
        case .undecodable: return "poison:undecodable"
        }
    }

    /// A sentence for logs and the `x-idem-last-error` header.
    public var description: String {
        switch self {
        case .noIdentity(let notes):
            return "no ID source yielded a message ID (" + notes.joined(separator: "; ") + ")"
        case .idTooLong(let source, let length, let limit):
            return "the message ID from \(source) is \(length) bytes, longer than the limit of \(limit)"
        case .bodyTooLarge(let size, let limit):
            return "the body is \(size) bytes, larger than the limit of \(limit)"
        case .undecodable(let detail):
            return detail
        }
    }
}
