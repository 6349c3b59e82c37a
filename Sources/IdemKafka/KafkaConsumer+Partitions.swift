import CRdKafka

extension KafkaConsumer {
    /// Stops fetching `partitions` until ``resume(_:)``; records already read from them
    /// and not yet returned are dropped and fetched again after resuming.
    ///
    /// The pause belongs to the current assignment: a partition revoked and assigned again
    /// starts unpaused (``completeRebalance(_:startOffsets:)`` resumes the partitions it
    /// assigns; librdkafka by itself would keep them paused).
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/pause`` naming the partitions
    ///   librdkafka refused (for example ones that are not assigned), or
    ///   ``KafkaError/Kind/closed``.
    public func pause(_ partitions: [KafkaTopicPartition]) async throws(KafkaError) {
        let handle = try openHandle()
        guard !partitions.isEmpty else { return }
        let list = KafkaPartitionList(partitions)
        let code = list.withPointer { rd_kafka_pause_partitions(handle, $0) }
        try Self.check(code, list, kind: .pause, "could not pause \(KafkaAssignment.describe(partitions))")
    }

    /// Fetches `partitions` again after ``pause(_:)``, from the record after the last one
    /// returned (or from where a seek put them).
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/pause`` naming the partitions
    ///   librdkafka refused, or ``KafkaError/Kind/closed``.
    public func resume(_ partitions: [KafkaTopicPartition]) async throws(KafkaError) {
        let handle = try openHandle()
        guard !partitions.isEmpty else { return }
        let list = KafkaPartitionList(partitions)
        let code = list.withPointer { rd_kafka_resume_partitions(handle, $0) }
        try Self.check(code, list, kind: .pause, "could not resume \(KafkaAssignment.describe(partitions))")
    }

    /// Moves an assigned partition's position: the next record returned from it is the one
    /// at `offset` (or the first one after it, if `offset` was removed). Records read before
    /// the seek and not yet returned are dropped, never returned later.
    ///
    /// Waits up to 10 seconds for librdkafka to apply the seek. Works on paused partitions
    /// too; they stay paused.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/seek`` naming the partition, for
    ///   example when it is not assigned to this consumer, or ``KafkaError/Kind/closed``.
    public func seek(_ partition: KafkaTopicPartition, to offset: Int64) async throws(KafkaError) {
        let handle = try openHandle()
        let what = "could not seek \(partition) to offset \(offset)"
        guard offset >= 0 else {
            throw KafkaError(kind: .invalidArgument, message: "\(what): the offset must not be negative")
        }
        guard KafkaAssignment.current(of: handle).contains(partition) else {
            throw KafkaError(kind: .seek, message: "\(what): the partition is not assigned to this consumer")
        }
        let list = KafkaPartitionList([partition], defaultOffset: offset)
        let timeout = milliseconds(Self.seekTimeout)
        if let error = list.withPointer({ rd_kafka_seek_partitions(handle, $0, timeout) }) {
            throw KafkaError(kind: .seek, context: what, error: error)
        }
        if let failure = list.firstFailure() {
            throw KafkaError(kind: .seek, context: what, code: failure.error)
        }
    }

    /// The group's committed offsets of `partitions` (each the offset of the next record to
    /// read), asked of the broker. Partitions without a committed offset are left out.
    ///
    /// - Parameter timeout: how long to wait for the broker.
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/offsetQuery`` naming the
    ///   partition that failed (or `_TIMED_OUT`), or ``KafkaError/Kind/closed``.
    public func committed(
        _ partitions: [KafkaTopicPartition], timeout: Duration
    ) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        let handle = try openHandle()
        guard !partitions.isEmpty else { return [:] }
        let list = KafkaPartitionList(partitions)
        let timeoutMilliseconds = milliseconds(timeout)
        let code = list.withPointer { rd_kafka_committed(handle, $0, timeoutMilliseconds) }
        try Self.check(
            code, list, kind: .offsetQuery,
            "could not read the committed offsets of \(KafkaAssignment.describe(partitions))")
        var result: [KafkaTopicPartition: Int64] = [:]
        for entry in list.entries where entry.offset >= 0 {
            result[entry.partition] = entry.offset
        }
        return result
    }

    /// The partitions currently assigned to this consumer (by completed rebalances), sorted.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/offsetQuery``, or
    ///   ``KafkaError/Kind/closed``.
    public func assignment() async throws(KafkaError) -> [KafkaTopicPartition] {
        let handle = try openHandle()
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let code = rd_kafka_assignment(handle, &list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let list else {
            throw KafkaError(kind: .offsetQuery, context: "could not read the consumer's assignment", code: code)
        }
        return KafkaPartitionList(taking: list).entries.map(\.partition).sorted()
    }

    /// Throws for a failed call, naming the partitions whose error field is set.
    private static func check(
        _ code: rd_kafka_resp_err_t, _ list: KafkaPartitionList, kind: KafkaError.Kind, _ what: String
    ) throws(KafkaError) {
        let failures = list.failures()
        if let first = list.firstFailure() {
            let error = first.error
            throw KafkaError(
                kind: kind, message: "\(what): \(failures.joined(separator: "; "))", code: error.rawValue,
                codeName: String(cString: rd_kafka_err2name(error)), isFatal: error == RD_KAFKA_RESP_ERR__FATAL)
        }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(kind: kind, context: what, code: code, isFatal: code == RD_KAFKA_RESP_ERR__FATAL)
        }
    }
}
