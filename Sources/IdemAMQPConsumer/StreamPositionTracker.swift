/// Where a consumer of a RabbitMQ stream is in the stream: the offset it resumes at after
/// a restart, and the offset it attaches at again after a pause or an in-place retry.
///
/// Every delivery from a stream carries its offset (`x-stream-offset`). A record is done
/// once one of its deliveries is settled for good (its effect committed, or it was a
/// duplicate, or its dead letter was confirmed); a retried record is not done until a
/// later delivery of it is. The position is the lowest offset not done: every record below
/// it is done, so a consumer that resumes there loses nothing. Offsets an attachment skips
/// (records removed by retention, or never written) count as done. Records done out of
/// order wait above the position until the gap below them closes; records delivered again
/// (an attachment that overlaps an earlier one) are answered by the dedup store.
public struct StreamPositionTracker: Sendable, Hashable {
    /// The lowest offset not done; `nil` before the first delivery when nothing is stored.
    public private(set) var position: Int64?
    /// The position last stored.
    public private(set) var stored: Int64?
    /// The highest offset received.
    public private(set) var lastReceived: Int64?
    /// The lowest offset of a record to retry in place: the next attachment starts there.
    public private(set) var reattachAt: Int64?
    /// Done offsets above the position, as ranges.
    private var done = RangeSet<Int64>()
    /// The latest attachments (consumer tag, next offset it should deliver; `nil` until its
    /// first delivery when it attached at `first`, `last` or `next`). The one before the
    /// latest may still deliver what it sent before it was cancelled.
    private var attachments: [Attachment] = []

    private struct Attachment: Sendable, Hashable {
        var consumerTag: String
        var expected: Int64?
    }

    /// A tracker for a consumer that stored `stored` (`nil`: nothing stored yet).
    public init(stored: Int64?) {
        self.stored = stored
        self.position = stored
    }

    /// Where the next attachment starts: at a record to retry, else one past the highest
    /// offset received, else at the stored position; `nil` when none is known (attach at
    /// the configured start).
    public var attachOffset: Int64? {
        if let reattachAt { return reattachAt }
        if let lastReceived { return lastReceived + 1 }
        return stored
    }

    /// A consumer attached with `consumerTag` at `offset` (`nil`: at a keyword start);
    /// `clearingRetry` false when a retry was asked for while it attached (the next
    /// attachment is still to start there).
    public mutating func attached(consumerTag: String, at offset: Int64?, clearingRetry: Bool = true) {
        attachments.append(Attachment(consumerTag: consumerTag, expected: offset))
        if attachments.count > 2 { attachments.removeFirst(attachments.count - 2) }
        if clearingRetry { reattachAt = nil }
    }

    /// A delivery of the record at `offset` arrived from the consumer `consumerTag`.
    public mutating func receive(offset: Int64, consumerTag: String?) {
        if position == nil { position = offset }
        if let index = attachments.firstIndex(where: { $0.consumerTag == consumerTag }) {
            if let expected = attachments[index].expected, offset > expected {
                // An attachment reads in order: what it skipped is not in the stream.
                markDone(expected..<offset)
            }
            attachments[index].expected = max(attachments[index].expected ?? offset, offset + 1)
        }
        lastReceived = max(lastReceived ?? offset, offset)
    }

    /// The records at `offsets` are done.
    public mutating func done(_ offsets: some Sequence<Int64>) {
        for offset in offsets { markDone(offset..<(offset + 1)) }
    }

    /// Whether the record at `offset` is done: a delivery of it again (an attachment that
    /// overlaps an earlier one) needs no processing.
    public func isDone(_ offset: Int64) -> Bool {
        guard let position else { return false }
        return offset < position || done.contains(offset)
    }

    /// The record at `offset` is to be retried in place: the next attachment starts there.
    public mutating func retry(_ offset: Int64) {
        reattachAt = min(reattachAt ?? offset, offset)
    }

    /// The position when it moved past the stored one, to store next.
    public var unstored: Int64? {
        guard let position, position > (stored ?? -1) else { return nil }
        return position
    }

    /// `offset` is stored.
    public mutating func markStored(_ offset: Int64) {
        stored = max(stored ?? offset, offset)
    }

    private mutating func markDone(_ range: Range<Int64>) {
        guard let current = position, range.upperBound > current else { return }
        done.insert(contentsOf: max(range.lowerBound, current)..<range.upperBound)
        guard let first = done.ranges.first, first.lowerBound <= current else { return }
        position = first.upperBound
        done.remove(contentsOf: first)
    }
}
