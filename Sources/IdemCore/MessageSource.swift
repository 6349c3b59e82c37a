/// Where a message came from, as the broker adapter that delivered it describes it.
public struct MessageSource: Sendable, Hashable, CustomStringConvertible {
    /// The adapter that delivered the message.
    public var kind: SourceKind
    /// A short text for logs, dead-letter headers and the `source` column: the adapter's
    /// (a queue's `KIND:QUEUE`, or a log position's `STREAM:LANE:OFFSET`).
    public var description: String
    /// The message's position, for a log-style broker.
    public var position: LogPosition?
    /// Whether the broker says it delivered the message before.
    public var redelivered: Bool
    /// How many times the broker delivered the message before and had it back, as the
    /// broker reports it (a RabbitMQ quorum queue's `x-delivery-count`, absent on a first
    /// delivery); `nil` when it reports none.
    public var deliveryCount: Int?
    /// What the message can carry beyond a body and headers.
    public var features: MessageFeatures

    /// A source described by `description`.
    public init(
        kind: SourceKind, description: String, position: LogPosition? = nil, redelivered: Bool = false,
        deliveryCount: Int? = nil, features: MessageFeatures = []
    ) {
        self.kind = kind
        self.description = description
        self.position = position
        self.redelivered = redelivered
        self.deliveryCount = deliveryCount
        var features = features
        if position != nil { features.insert(.logPosition) }
        self.features = features
    }

    /// A record of a log-style broker at `position`, described as `STREAM:LANE:OFFSET`.
    public init(kind: SourceKind, position: LogPosition, features: MessageFeatures = []) {
        self.init(kind: kind, description: position.description, position: position, features: features)
    }
}
