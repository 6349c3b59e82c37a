/// A record to produce with ``KafkaProducer/produce(_:)``.
public struct KafkaOutgoingRecord: Sendable, Hashable {
    /// The topic.
    public var topic: String
    /// The record key; records with the same key go to the same partition.
    public var key: [UInt8]?
    /// The record value (`nil` for a tombstone).
    public var value: [UInt8]?
    /// The record headers, in order.
    public var headers: [KafkaHeader]
    /// A fixed partition, or `nil` to let the partitioner choose.
    public var partition: Int32?

    /// Creates a record.
    public init(
        topic: String, key: [UInt8]? = nil, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil
    ) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
        self.partition = partition
    }
}
