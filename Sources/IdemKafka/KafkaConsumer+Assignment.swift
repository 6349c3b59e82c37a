import CRdKafka

/// Manual assignment, for tools that read partitions outside the consumer group (such as
/// `idem dlq`, which reads a dead-letter topic from its start to its end): no
/// subscription, no rebalances, no commits.
extension KafkaConsumer {
    /// Assigns exactly `partitions` to this consumer (`rd_kafka_assign`), each starting at
    /// its offset (a position, or a logical offset: -2 the beginning, -1 the end),
    /// replacing any earlier manual assignment. Do not mix with ``subscribe(topics:)``.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/rebalance``, or
    ///   ``KafkaError/Kind/closed``.
    public func assign(_ partitions: [KafkaTopicPartition: Int64]) async throws(KafkaError) {
        let handle = try openHandle()
        let sorted = partitions.keys.sorted()
        let list = KafkaPartitionList(sorted, offsets: partitions)
        let code = list.withPointer { rd_kafka_assign(handle, $0) }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                kind: .rebalance, context: "could not assign \(KafkaAssignment.describe(sorted))", code: code)
        }
    }

    /// The number of partitions of `topic`, asked of the brokers, or `nil` when the topic
    /// does not exist.
    ///
    /// Asks for the metadata of every topic: a request naming the topic would make a
    /// broker that auto-creates topics create it.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/offsetQuery`` when the brokers
    ///   do not answer within `timeout`, or ``KafkaError/Kind/closed``.
    public func partitionCount(of topic: String, timeout: Duration) async throws(KafkaError) -> Int? {
        let handle = try openHandle()
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let code = rd_kafka_metadata(handle, 1, nil, &metadata, milliseconds(timeout))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(kind: .offsetQuery, context: "could not read the metadata of topic \(topic)", code: code)
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        guard let topics = metadata.pointee.topics else { return nil }
        for index in 0..<Int(metadata.pointee.topic_cnt) where String(cString: topics[index].topic) == topic {
            let entry = topics[index]
            switch entry.err {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                return Int(entry.partition_cnt)
            case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
                return nil
            default:
                throw KafkaError(
                    kind: .offsetQuery, context: "could not read the metadata of topic \(topic)", code: entry.err)
            }
        }
        return nil
    }

    /// The low and high watermarks of a partition, asked of its leader: the offset of its
    /// first record still kept, and the offset the next record will get.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/offsetQuery``, or
    ///   ``KafkaError/Kind/closed``.
    public func watermarks(
        of partition: KafkaTopicPartition, timeout: Duration
    ) async throws(KafkaError) -> (low: Int64, high: Int64) {
        let handle = try openHandle()
        var low: Int64 = 0
        var high: Int64 = 0
        let code = rd_kafka_query_watermark_offsets(
            handle, partition.topic, partition.partition, &low, &high, milliseconds(timeout))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(kind: .offsetQuery, context: "could not read the watermarks of \(partition)", code: code)
        }
        return (low, high)
    }

    /// The fetch positions of assigned partitions: the offset of the next record each will
    /// return. Partitions without a position yet are left out.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/offsetQuery``, or
    ///   ``KafkaError/Kind/closed``.
    public func positions(
        of partitions: [KafkaTopicPartition]
    ) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        let handle = try openHandle()
        guard !partitions.isEmpty else { return [:] }
        let list = KafkaPartitionList(partitions)
        let code = list.withPointer { rd_kafka_position(handle, $0) }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                kind: .offsetQuery, context: "could not read the positions of \(KafkaAssignment.describe(partitions))",
                code: code)
        }
        var result: [KafkaTopicPartition: Int64] = [:]
        for entry in list.entries where entry.offset >= 0 {
            result[entry.partition] = entry.offset
        }
        return result
    }
}
