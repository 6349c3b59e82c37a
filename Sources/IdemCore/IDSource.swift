/// One place a message ID can come from. A consumer lists several; the first that yields
/// a value wins.
public enum IDSource: Sendable, Hashable, CustomStringConvertible {
    /// The AMQP `message-id` property.
    case messageId
    /// An AMQP header-table entry or a Kafka record header.
    case header(String)
    /// The Kafka record key.
    case key
    /// `topic:partition:offset` of a Kafka record: unique per record, not per payload.
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

    /// The source kinds this ID source can ever yield a value for.
    public var applicableKinds: Set<SourceKind> {
        switch self {
        case .messageId: return [.amqp]
        case .key, .offset: return [.kafka]
        case .header, .json, .contentHash: return [.amqp, .kafka]
        }
    }
}
