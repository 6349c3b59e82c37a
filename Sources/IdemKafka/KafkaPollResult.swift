/// What one ``KafkaConsumer/poll(maxRecords:timeout:)`` returned.
public struct KafkaPollResult: Sendable {
    /// The records, in order within each partition. Empty when the timeout passed, when
    /// other calls to the consumer were waiting, or when only a rebalance happened.
    public var records: [KafkaRecord]
    /// A rebalance that happened after (or while) these records were read. The caller
    /// handles the records first, commits, then must call
    /// ``KafkaConsumer/completeRebalance(_:startOffsets:)`` with it before polling again.
    public var rebalance: KafkaRebalance?
    /// Whether ``rebalance`` revokes partitions that the group already gave to another
    /// member (this consumer missed its session timeout or `max.poll.interval.ms`): commits
    /// for them will fail, so abandon their uncommitted work rather than commit it.
    public var assignmentLost: Bool

    /// Creates a poll result.
    public init(records: [KafkaRecord], rebalance: KafkaRebalance? = nil, assignmentLost: Bool = false) {
        self.records = records
        self.rebalance = rebalance
        self.assignmentLost = assignmentLost
    }
}
