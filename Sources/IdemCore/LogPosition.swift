/// Where a record sits in a log-style broker: a stream, a lane of it (the unit
/// of order) and an offset in that lane. Offsets of one lane increase in delivery order.
///
/// Offset IDs (`id: [offset]`) and offset dedup mode work for any broker whose messages
/// carry a position.
public struct LogPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The stream's name.
    public var stream: String
    /// The lane of the stream, from 0.
    public var lane: Int32
    /// The record's offset in its lane.
    public var offset: Int64

    /// Creates a position.
    public init(stream: String, lane: Int32, offset: Int64) {
        self.stream = stream
        self.lane = lane
        self.offset = offset
    }

    /// Parses `STREAM:LANE:OFFSET` (the stream may itself hold colons); `nil` when `text`
    /// is not of that form.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let lane = Int32(parts[parts.count - 2]), let offset = Int64(parts[parts.count - 1])
        else { return nil }
        let stream = parts.dropLast(2).joined(separator: ":")
        guard !stream.isEmpty else { return nil }
        self.init(stream: stream, lane: lane, offset: offset)
    }

    /// `STREAM:LANE:OFFSET`: the message ID of `id: [offset]` and the `x-idem-source` of a
    /// dead letter.
    public var description: String { "\(stream):\(lane):\(offset)" }

    /// Orders by stream, lane, then offset.
    public static func < (lhs: LogPosition, rhs: LogPosition) -> Bool {
        (lhs.stream, lhs.lane, lhs.offset) < (rhs.stream, rhs.lane, rhs.offset)
    }
}
