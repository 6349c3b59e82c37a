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
}
