/// A change of the consumer's assignment, reported by
/// ``KafkaConsumer/poll(maxRecords:timeout:)``.
///
/// librdkafka does not apply it by itself: the caller finishes its work on revoked
/// partitions, commits, then calls ``KafkaConsumer/completeRebalance(_:startOffsets:)``,
/// which changes the assignment and lets the group go on.
public enum KafkaRebalance: Sendable, Hashable, CustomStringConvertible {
    /// The group gave these partitions to the consumer (all of its partitions for the eager
    /// protocol, the added ones for the cooperative one). Possibly empty.
    case assign([KafkaTopicPartition])
    /// The group takes these partitions away (all of the consumer's partitions for the eager
    /// protocol, the removed ones for the cooperative one). Possibly empty.
    case revoke([KafkaTopicPartition])

    /// The partitions concerned.
    public var partitions: [KafkaTopicPartition] {
        switch self {
        case .assign(let partitions), .revoke(let partitions): partitions
        }
    }

    /// For example `assign [orders[0], orders[1]]`.
    public var description: String {
        switch self {
        case .assign(let partitions): "assign \(partitions)"
        case .revoke(let partitions): "revoke \(partitions)"
        }
    }
}
