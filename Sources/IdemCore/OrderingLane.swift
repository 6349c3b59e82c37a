/// The unit of order of a batch that keeps order: the lane of a log stream a message came
/// from (a Kafka partition). Messages without a log position are all in one lane.
///
/// A batch that keeps order may hold several lanes: a transient failure defers what comes
/// after it in its own lane only.
public struct OrderingLane: Sendable, Hashable {
    /// The stream's name; `nil` for messages without a log position.
    public var stream: String?
    /// The lane of the stream (0 without a log position).
    public var lane: Int32

    /// The lane `source` is in.
    public init(_ source: MessageSource) {
        self.stream = source.position?.stream
        self.lane = source.position?.lane ?? 0
    }
}

extension ClaimRequest {
    /// The lane of order the request's message is in.
    public var lane: OrderingLane { OrderingLane(message.source) }
}
