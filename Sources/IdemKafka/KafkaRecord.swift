/// A record read from Kafka.
public struct KafkaRecord: Sendable, Hashable {
    /// The topic it was read from.
    public var topic: String
    /// The partition it was read from.
    public var partition: Int32
    /// Its offset in the partition.
    public var offset: Int64
    /// The record key, if it has one.
    public var key: [UInt8]?
    /// The record value, if it has one (`nil` for a tombstone).
    public var value: [UInt8]?
    /// The record headers, in order.
    public var headers: [KafkaHeader]
    /// The record timestamp in milliseconds since 1970, if the broker provided one.
    public var timestamp: Int64?

    /// Creates a record.
    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?,
        headers: [KafkaHeader], timestamp: Int64?
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// The value of the first header called `key` (`nil` if absent or null).
    public func header(_ key: String) -> [UInt8]? {
        headers.first(where: { $0.key == key })?.value ?? nil
    }

    /// The record's topic and partition.
    public var topicPartition: KafkaTopicPartition {
        KafkaTopicPartition(topic: topic, partition: partition)
    }
}
