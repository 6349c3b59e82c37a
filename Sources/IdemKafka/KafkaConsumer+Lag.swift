import CRdKafka

extension KafkaConsumer {
    /// The high watermark (the offset after the last record) of each of `partitions` that
    /// librdkafka knows from its last fetch responses, without a request to the broker.
    /// Partitions not fetched yet are left out.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/closed``.
    public func cachedHighWatermarks(
        _ partitions: [KafkaTopicPartition]
    ) throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        let handle = try openHandle()
        var found: [KafkaTopicPartition: Int64] = [:]
        for partition in partitions {
            var low: Int64 = -1
            var high: Int64 = -1
            let code = rd_kafka_get_watermark_offsets(handle, partition.topic, partition.partition, &low, &high)
            if code == RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0 { found[partition] = high }
        }
        return found
    }

    /// The high watermark of each of `partitions`, asked of the partition leaders (one
    /// request per partition, each waiting at most `timeout`): for partitions that are not
    /// fetched, such as paused ones, whose cached watermark is stale. Partitions whose leader
    /// did not answer are left out.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/closed``.
    public func queriedHighWatermarks(
        _ partitions: [KafkaTopicPartition], timeout: Duration
    ) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        let handle = try openHandle()
        let timeoutMilliseconds = milliseconds(timeout)
        var found: [KafkaTopicPartition: Int64] = [:]
        for partition in partitions {
            var low: Int64 = -1
            var high: Int64 = -1
            let code = rd_kafka_query_watermark_offsets(
                handle, partition.topic, partition.partition, &low, &high, timeoutMilliseconds)
            if code == RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0 { found[partition] = high }
        }
        return found
    }
}
