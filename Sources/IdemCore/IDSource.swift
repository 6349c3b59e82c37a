/// One place a message ID can come from. A consumer lists several; the first that yields
/// a value wins.
public enum IDSource: Sendable, Hashable, CustomStringConvertible {
    /// The `message-id` property, for brokers whose messages carry one.
    case messageId
    /// A header, as the broker carries it.
    case header(String)
    /// The record key, for brokers whose messages carry one.
    case key
    /// The log position, `STREAM:LANE:OFFSET`, for log-style brokers: unique per record,
    /// not per payload.
    case offset
    /// A field of a JSON body.
    case json(JSONPointer)
    /// SHA-256 of the body, lowercase hex.
    case contentHash

    /// The source as it is written in the configuration, e.g. `header: X-Request-Id`.
    public var description: String {
        switch self {
        case .messageId: return "message_id"
        case .header(let name): return "header: \(name)"
        case .key: return "key"
        case .offset: return "offset"
        case .json(let pointer): return "json: \(pointer)"
        case .contentHash: return "content_hash"
        }
    }

    /// What a broker's messages must carry for this ID source to ever yield a value.
    public var requiredFeatures: MessageFeatures {
        switch self {
        case .messageId: return .messageIDProperty
        case .key: return .recordKey
        case .offset: return .logPosition
        case .header, .json, .contentHash: return []
        }
    }
}
