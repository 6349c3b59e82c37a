import IdemCore

/// Which deliveries of an AMQP channel can be acknowledged, when batches finish out of order.
///
/// Deliveries are registered in the order the channel delivered them (increasing tags).
/// Each is settled when its fate is sealed: either it needs an ack (its effect committed, or
/// its dead letter or delayed retry was confirmed) or it was already nacked or rejected (it
/// is no longer outstanding). A `basic.ack` with `multiple` may then cover the contiguous
/// prefix of settled deliveries; it names the highest tag of that prefix that still needs an
/// ack, since RabbitMQ refuses a tag that is no longer outstanding.
///
/// Before a channel closes with some deliveries unsettled, ``takeSettledOutOfOrder()`` gives
/// the settled ones behind them, to be acked one by one, so that no committed effect is left
/// unacked (its redelivery would be a duplicate, but a needless one).
public struct AckTracker: Sendable {
    /// Registered tags not yet covered by an ack, in delivery order, from `head` on.
    private var tags: [UInt64] = []
    private var head = 0
    /// Settled tags not yet covered: whether each needs an ack.
    private var settled: [UInt64: Bool] = [:]

    /// An empty tracker.
    public init() {}

    /// Registers deliveries in the order they arrived.
    public mutating func receive(_ deliveryTags: some Sequence<UInt64>) {
        for tag in deliveryTags {
            precondition(tags.last.map { $0 < tag } ?? true, "delivery tags must increase")
            tags.append(tag)
        }
    }

    /// Seals the fate of a delivery: `needsAck` is false when it was nacked or rejected.
    public mutating func settle(_ deliveryTag: UInt64, needsAck: Bool) {
        settled[deliveryTag] = needsAck
    }

    /// The tag for one `basic.ack` with `multiple` covering every settled delivery at the
    /// front, or `nil` when there is none or none of them needs an ack. The covered
    /// deliveries are forgotten.
    public mutating func takeMultipleAck() -> UInt64? {
        var highest: UInt64?
        while head < tags.count, let needsAck = settled.removeValue(forKey: tags[head]) {
            if needsAck { highest = tags[head] }
            head += 1
        }
        if head == tags.count {
            tags.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 4096 {
            tags.removeFirst(head)
            head = 0
        }
        return highest
    }

    /// The settled deliveries that need an ack but sit behind an unsettled one, in order;
    /// they are forgotten (ack each without `multiple`).
    public mutating func takeSettledOutOfOrder() -> [UInt64] {
        var acks: [UInt64] = []
        var remaining: [UInt64] = []
        for tag in tags[head...] {
            if let needsAck = settled.removeValue(forKey: tag) {
                if needsAck { acks.append(tag) }
            } else {
                remaining.append(tag)
            }
        }
        tags = remaining
        head = 0
        return acks
    }

    /// Forgets every delivery: the channel closed, and the broker requeued what it held.
    public mutating func reset() {
        tags.removeAll()
        head = 0
        settled.removeAll()
    }

    /// Deliveries registered and not yet covered by an ack.
    public var outstanding: Int { tags.count - head }
}
