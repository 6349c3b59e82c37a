import CRdKafka
import IdemConcurrency
import Logging

/// A Kafka consumer in a consumer group, with manual offset commits.
///
/// Automatic commits are always off (`enable.auto.commit=false`): the caller commits what
/// it has finished with ``commit(_:)`` or ``commit(offsets:)``. Partition assignment is
/// left to librdkafka's default rebalance handling.
///
/// Every librdkafka call, including the blocking ``poll(timeout:)``, runs on the
/// consumer's own thread (a ``ThreadExecutor``), never on Swift's cooperative pool.
public actor KafkaConsumer {
    private let executor: ThreadExecutor
    private let context: KafkaClientContext
    private var handle: OpaquePointer?
    /// The consumer group.
    public nonisolated let groupId: String

    /// Runs this actor on its own thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init(context: KafkaClientContext, groupId: String) {
        self.executor = ThreadExecutor(name: "idem-kafka-cons")
        self.context = context
        self.groupId = groupId
    }

    isolated deinit {
        // Runs on the consumer's thread: leave the group and destroy a client the owner
        // did not close.
        if let handle {
            _ = rd_kafka_consumer_close(handle)
            rd_kafka_destroy(handle)
        }
        executor.shutdown()
    }

    /// Creates a consumer in group `groupId`.
    ///
    /// - Parameters:
    ///   - bootstrapServers: the brokers, `host:port` separated by commas.
    ///   - groupId: the consumer group (`group.id`).
    ///   - configuration: librdkafka properties applied after the defaults
    ///     (`client.id` = `idem`, `auto.offset.reset` = `earliest`, so a new group starts
    ///     at the beginning rather than skipping what is already there); `group.id`,
    ///     `bootstrap.servers` and `enable.auto.commit=false` always win.
    ///   - logger: receives librdkafka's log lines and client errors.
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/configuration`` naming a bad
    ///   property, or ``KafkaError/Kind/clientCreation``.
    public static func make(
        bootstrapServers: String,
        groupId: String,
        configuration: [String: String] = [:],
        logger: Logger
    ) async throws(KafkaError) -> KafkaConsumer {
        guard !groupId.isEmpty else {
            throw KafkaError(kind: .invalidArgument, message: "a Kafka consumer needs a non-empty group ID")
        }
        let consumer = KafkaConsumer(context: KafkaClientContext(logger: logger), groupId: groupId)
        try await consumer.open(bootstrapServers: bootstrapServers, configuration: configuration)
        return consumer
    }

    private func open(bootstrapServers: String, configuration: [String: String])
        throws(KafkaError)
    {
        let properties = KafkaClientContext.properties(
            defaults: ["client.id": "idem", "auto.offset.reset": "earliest"],
            caller: configuration,
            forced: [
                "bootstrap.servers": bootstrapServers, "group.id": groupId,
                "enable.auto.commit": "false",
            ])
        let conf = try context.makeConfiguration(properties)
        let handle = try KafkaClientContext.makeHandle(type: RD_KAFKA_CONSUMER, conf: conf)
        // Serve logs, errors and rebalances from the consumer queue, i.e. from poll().
        _ = rd_kafka_poll_set_consumer(handle)
        self.handle = handle
    }

    /// Subscribes to `topics`, replacing any earlier subscription. Partitions are assigned
    /// as the group rebalances, during ``poll(timeout:)``.
    public func subscribe(topics: [String]) async throws(KafkaError) {
        let handle = try openHandle()
        guard !topics.isEmpty else {
            throw KafkaError(kind: .invalidArgument, message: "subscribe needs at least one topic")
        }
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics {
            rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA)
        }
        let code = rd_kafka_subscribe(handle, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                kind: .subscribe,
                context: "could not subscribe to \(topics.joined(separator: ", "))", code: code)
        }
        context.logger.debug(
            "subscribed", metadata: ["group": "\(groupId)", "topics": "\(topics)"])
    }

    /// Waits up to `timeout` for the next record.
    ///
    /// - Returns: the record, or `nil` if none arrived in time (or a partition end was
    ///   reported).
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/consume`` for an error event, for
    ///   example `UNKNOWN_TOPIC_OR_PART` when a subscribed topic does not exist. Such
    ///   errors are usually transient and the consumer stays usable unless
    ///   ``KafkaError/isFatal`` is set.
    public func poll(timeout: Duration) async throws(KafkaError) -> KafkaRecord? {
        let handle = try openHandle()
        guard let message = rd_kafka_consumer_poll(handle, milliseconds(timeout)) else {
            return nil
        }
        defer { rd_kafka_message_destroy(message) }
        let record = message.pointee
        let topic = record.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        if record.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return nil }
        guard record.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let text = String(cString: rd_kafka_message_errstr(message))
            let place = topic.isEmpty ? "" : " (topic '\(topic)', partition \(record.partition))"
            throw KafkaError(
                kind: .consume, message: "Kafka consumer error\(place): \(text)",
                code: record.err.rawValue,
                codeName: String(cString: rd_kafka_err2name(record.err)),
                isFatal: record.err == RD_KAFKA_RESP_ERR__FATAL)
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        return KafkaRecord(
            topic: topic,
            partition: record.partition,
            offset: record.offset,
            key: bytes(record.key, record.key_len),
            value: bytes(record.payload, record.len),
            headers: headers(of: message),
            timestamp: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp)
    }

    /// Commits `record` as processed: its partition's committed offset becomes
    /// `record.offset + 1`. Waits for the broker to confirm.
    public func commit(_ record: KafkaRecord) async throws(KafkaError) {
        try await commit(
            offsets: [
                KafkaPartitionOffset(
                    topic: record.topic, partition: record.partition, offset: record.offset + 1)
            ])
    }

    /// Commits the given positions (each the offset of the next record to read) and waits
    /// for the broker to confirm.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/commit``, naming the partition
    ///   when one partition failed.
    public func commit(offsets: [KafkaPartitionOffset]) async throws(KafkaError) {
        let handle = try openHandle()
        guard !offsets.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for position in offsets {
            let entry = rd_kafka_topic_partition_list_add(list, position.topic, position.partition)
            entry?.pointee.offset = position.offset
        }
        let code = rd_kafka_commit(handle, list, 0)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(kind: .commit, context: "could not commit offsets", code: code)
        }
        for index in 0..<Int(list.pointee.cnt) {
            let entry = list.pointee.elems[index]
            if entry.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                let topic = String(cString: entry.topic)
                throw KafkaError(
                    kind: .commit,
                    context:
                        "could not commit offset \(entry.offset) of topic '\(topic)' partition \(entry.partition)",
                    code: entry.err)
            }
        }
    }

    /// Leaves the group (committing nothing more) and destroys the client. Later calls
    /// throw ``KafkaError/Kind/closed``; closing twice is harmless.
    public func close() async {
        guard let handle else { return }
        self.handle = nil
        let code = rd_kafka_consumer_close(handle)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            context.logger.debug(
                "Kafka consumer close reported an error",
                metadata: ["error": "\(String(cString: rd_kafka_err2str(code)))"])
        }
        rd_kafka_destroy(handle)
        context.logger.debug("closed Kafka consumer", metadata: ["group": "\(groupId)"])
    }

    // MARK: - Internals

    private func openHandle() throws(KafkaError) -> OpaquePointer {
        assert(executor.isCurrentThread, "librdkafka used off the consumer's thread")
        guard let handle else {
            throw KafkaError(kind: .closed, message: "the Kafka consumer is closed")
        }
        return handle
    }

    private func bytes(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> [UInt8]? {
        guard let pointer else { return nil }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    private func headers(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var cHeaders: OpaquePointer?
        guard rd_kafka_message_headers(message, &cHeaders) == RD_KAFKA_RESP_ERR_NO_ERROR,
            let cHeaders
        else { return [] }
        var result: [KafkaHeader] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(cHeaders, index, &name, &value, &size)
            == RD_KAFKA_RESP_ERR_NO_ERROR
        {
            let key = name.map { String(cString: $0) } ?? ""
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
            result.append(KafkaHeader(key: key, value: bytes))
            index += 1
        }
        return result
    }
}
