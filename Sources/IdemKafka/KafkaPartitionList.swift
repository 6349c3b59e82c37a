import CRdKafka

/// An owned `rd_kafka_topic_partition_list_t`, destroyed with the wrapper.
///
/// Not `Sendable`: it lives for one call on the client's thread. The C list is reached only
/// through ``withPointer(_:)``, which keeps the wrapper (and so the list) alive for the
/// call: Swift may end an object's lifetime right after its last use, so a bare pointer
/// taken from a temporary wrapper could be freed before librdkafka reads it.
final class KafkaPartitionList {
    /// One element of a list.
    struct Entry {
        /// The topic and partition.
        var partition: KafkaTopicPartition
        /// The offset field (a position, or a logical offset such as
        /// `RD_KAFKA_OFFSET_INVALID`).
        var offset: Int64
        /// The element's error field.
        var error: rd_kafka_resp_err_t
    }

    private let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// A list of `partitions`, each with its offset from `offsets` or else `defaultOffset`.
    init(
        _ partitions: [KafkaTopicPartition], offsets: [KafkaTopicPartition: Int64] = [:],
        defaultOffset: Int64 = Int64(RD_KAFKA_OFFSET_INVALID)
    ) {
        pointer = rd_kafka_topic_partition_list_new(Int32(clamping: max(partitions.count, 1)))
        for partition in partitions {
            let element = rd_kafka_topic_partition_list_add(pointer, partition.topic, partition.partition)
            element?.pointee.offset = offsets[partition] ?? defaultOffset
        }
    }

    /// Takes ownership of a list librdkafka returned.
    init(taking pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        self.pointer = pointer
    }

    deinit {
        rd_kafka_topic_partition_list_destroy(pointer)
    }

    /// Calls `body` with the C list, keeping it alive until `body` returns.
    func withPointer<Result, Failure: Error>(
        _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        defer { withExtendedLifetime(self) {} }
        return try body(pointer)
    }

    /// The elements, in list order.
    var entries: [Entry] { Self.entries(of: pointer) }

    /// The elements of a list the caller does not own, in list order.
    static func entries(of list: UnsafePointer<rd_kafka_topic_partition_list_t>?) -> [Entry] {
        guard let list, list.pointee.cnt > 0, let elements = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = elements[index]
            return Entry(
                partition: KafkaTopicPartition(
                    topic: element.topic.map { String(cString: $0) } ?? "", partition: element.partition),
                offset: element.offset, error: element.err)
        }
    }

    /// The topics and partitions of a list the caller does not own, sorted.
    static func partitions(of list: UnsafePointer<rd_kafka_topic_partition_list_t>?) -> [KafkaTopicPartition] {
        entries(of: list).map(\.partition).sorted()
    }

    /// The elements whose error field is set, as `topic[3]: reason` texts.
    func failures() -> [String] {
        entries.filter { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }.map {
            "\($0.partition): \(String(cString: rd_kafka_err2str($0.error)))"
        }
    }

    /// The first element whose error field is set.
    func firstFailure() -> Entry? {
        entries.first { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
    }
}
