import CRdKafka
import IdemConcurrency
import Logging

/// A Kafka consumer in a consumer group, with manual offset commits and rebalances that the
/// caller completes.
///
/// Automatic commits and automatic offset storing are always off: the caller commits what
/// it has finished with ``commit(_:)`` or ``commit(offsets:)``.
///
/// Rebalances are reported by ``poll(maxRecords:timeout:)`` and take effect only when the
/// caller calls ``completeRebalance(_:startOffsets:)``: on a revocation the caller first
/// finishes and commits its work on the revoked partitions; on an assignment it may choose
/// where each partition starts. Until then librdkafka neither fetches newly assigned
/// partitions nor rejoins the group after a revocation.
///
/// ```swift
/// let consumer = try await KafkaConsumer.make(
///     bootstrapServers: servers, groupId: "billing", logger: logger)
/// try await consumer.subscribe(topics: ["orders"])
/// while running {
///     let result = try await consumer.poll(maxRecords: 500, timeout: .seconds(1))
///     for record in result.records { … }
///     try await consumer.commit(offsets: …)
///     if let rebalance = result.rebalance {
///         try await consumer.completeRebalance(rebalance)
///     }
/// }
/// await consumer.close()
/// ```
///
/// Every librdkafka call runs on the consumer's own thread (a ``ThreadExecutor``), never on
/// Swift's cooperative pool. A waiting poll gives the thread up as soon as another call
/// (a commit, a pause, a seek) is made from another task.
public actor KafkaConsumer {
    private let executor: ThreadExecutor
    let context: KafkaClientContext
    private let rebalances: KafkaRebalanceRecorder
    private var handle: OpaquePointer?
    /// The consumer queue (`rd_kafka_queue_get_consumer`), which librdkafka's main queue
    /// is forwarded to.
    private var queue: OpaquePointer?
    private var wakePipe: KafkaWakePipe?
    /// The rebalance the last poll returned, until the caller completes it.
    private var pendingRebalance: KafkaRebalanceRecorder.Event?
    /// The consumer group.
    public nonisolated let groupId: String

    /// How long ``seek(_:to:)`` waits for librdkafka to apply a seek.
    static let seekTimeout = Duration.seconds(10)
    /// The most records one poll returns, whatever `maxRecords` asks.
    public static let maxRecordsPerPoll = 100_000

    /// Runs this actor on its own thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init(logger: Logger, groupId: String) {
        self.executor = ThreadExecutor(name: "idem-kafka-cons")
        self.rebalances = KafkaRebalanceRecorder()
        self.context = KafkaClientContext(logger: logger, rebalances: rebalances)
        self.groupId = groupId
    }

    isolated deinit {
        // Runs on the consumer's thread: leave the group and destroy a client the owner
        // did not close.
        tearDown()
        executor.shutdown()
    }

    /// Creates a consumer in group `groupId`.
    ///
    /// - Parameters:
    ///   - bootstrapServers: the brokers, `host:port` separated by commas.
    ///   - groupId: the consumer group (`group.id`).
    ///   - configuration: librdkafka properties applied after the defaults (`client.id` =
    ///     `idem`; `auto.offset.reset` = `earliest`, so a new group starts at the beginning
    ///     rather than skipping what is already there; `queued.max.messages.kbytes` =
    ///     `16384`, which bounds the prefetched records to about 16 MB of payload, and
    ///     `queued.min.messages` = `50000` per partition, which bounds their count: small
    ///     records cost more in librdkafka's bookkeeping than in payload); `group.id`,
    ///     `bootstrap.servers`, `enable.auto.commit=false` and
    ///     `enable.auto.offset.store=false` always win.
    ///   - logger: receives librdkafka's log lines, client errors and consumer errors.
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
        let consumer = KafkaConsumer(logger: logger, groupId: groupId)
        try await consumer.open(bootstrapServers: bootstrapServers, configuration: configuration)
        return consumer
    }

    private func open(bootstrapServers: String, configuration: [String: String])
        throws(KafkaError)
    {
        let properties = KafkaClientContext.properties(
            defaults: [
                "client.id": "idem", "auto.offset.reset": "earliest",
                "queued.max.messages.kbytes": "16384", "queued.min.messages": "50000",
                // Broker states for readiness (see `allBrokersDown`).
                "statistics.interval.ms": "5000",
            ],
            caller: configuration,
            forced: [
                "bootstrap.servers": bootstrapServers, "group.id": groupId,
                "enable.auto.commit": "false", "enable.auto.offset.store": "false",
            ])
        let pipe = try KafkaWakePipe()
        let conf = try context.makeConfiguration(properties)
        let handle = try KafkaClientContext.makeHandle(type: RD_KAFKA_CONSUMER, conf: conf)
        // Serve logs, errors and rebalances from the consumer queue, i.e. from poll().
        _ = rd_kafka_poll_set_consumer(handle)
        guard let queue = rd_kafka_queue_get_consumer(handle) else {
            rd_kafka_destroy(handle)
            throw KafkaError(kind: .clientCreation, message: "the Kafka consumer has no consumer queue")
        }
        // librdkafka writes a byte when an item arrives on the (then empty) queue.
        var payload: UInt8 = 1
        rd_kafka_queue_io_event_enable(queue, pipe.writeDescriptor, &payload, 1)
        self.handle = handle
        self.queue = queue
        self.wakePipe = pipe
    }

    /// Subscribes to `topics`, replacing any earlier subscription. Partitions are assigned
    /// as the group rebalances: ``poll(maxRecords:timeout:)`` reports each change.
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

    /// Reads up to `maxRecords` records, or a rebalance.
    ///
    /// Returns as soon as at least one record is available (without waiting for more), a
    /// rebalance happened, `timeout` passed, or another call to this consumer (a commit,
    /// say) is waiting for the consumer's thread — so the result may be empty before the
    /// timeout; just poll again.
    ///
    /// A returned ``KafkaPollResult/rebalance`` must be completed with
    /// ``completeRebalance(_:startOffsets:)`` before the next poll: handle the returned
    /// records, commit, then complete it.
    ///
    /// Partition ends are skipped. Consumer errors that librdkafka recovers from (a broker
    /// down, a topic that does not exist yet) are logged as warnings, not thrown.
    ///
    /// - Parameters:
    ///   - maxRecords: the most records to return, at least 1 (and at most
    ///     ``maxRecordsPerPoll``).
    ///   - timeout: how long to wait when nothing is available.
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/consume`` with
    ///   ``KafkaError/isFatal`` set when the consumer failed for good (close it and create
    ///   another), ``KafkaError/Kind/invalidArgument`` if the last rebalance was not
    ///   completed, or ``KafkaError/Kind/closed``.
    public func poll(maxRecords: Int, timeout: Duration) async throws(KafkaError) -> KafkaPollResult {
        try pollNow(maxRecords: maxRecords, timeout: timeout)
    }

    /// Waits up to `timeout` for the next record, completing any rebalance on the way with
    /// the committed offsets: a simple consumer for tools and tests.
    ///
    /// - Returns: the record, or `nil` if none arrived in time or another call to this
    ///   consumer was waiting.
    /// - Throws: ``KafkaError`` as ``poll(maxRecords:timeout:)`` and
    ///   ``completeRebalance(_:startOffsets:)`` do.
    public func poll(timeout: Duration) async throws(KafkaError) -> KafkaRecord? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        if let pendingRebalance {
            try completeNow(pendingRebalance.rebalance, startOffsets: [:])
        }
        while true {
            let remaining = max(.zero, ContinuousClock.now.duration(to: deadline))
            let result = try pollNow(maxRecords: 1, timeout: remaining)
            if let rebalance = result.rebalance {
                try completeNow(rebalance, startOffsets: [:])
            }
            if let record = result.records.first { return record }
            // Without a rebalance, an empty result means time is up or other work waits.
            guard result.rebalance != nil, ContinuousClock.now < deadline else { return nil }
        }
    }

    /// Completes the rebalance the last poll returned: changes the assignment so that the
    /// group can go on.
    ///
    /// For ``KafkaRebalance/assign(_:)``, each partition starts at `startOffsets[partition]`
    /// if given, else at the group's committed offset (or per `auto.offset.reset` when
    /// there is none). A negative start offset is a librdkafka logical offset (-2 the
    /// beginning, -1 the end). Entries for other partitions are ignored.
    ///
    /// For ``KafkaRebalance/revoke(_:)``, call it only after committing what was finished
    /// on the revoked partitions; `startOffsets` is ignored.
    ///
    /// Uses `rd_kafka_assign` for the eager rebalance protocol (`range`, `roundrobin`) and
    /// `rd_kafka_incremental_assign`/`_unassign` for the cooperative one
    /// (`cooperative-sticky`).
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/invalidArgument`` if `rebalance`
    ///   is not the one the last poll returned, ``KafkaError/Kind/rebalance`` if librdkafka
    ///   refused the change (it counts as completed all the same), or
    ///   ``KafkaError/Kind/closed``.
    public func completeRebalance(
        _ rebalance: KafkaRebalance, startOffsets: [KafkaTopicPartition: Int64] = [:]
    ) async throws(KafkaError) {
        try completeNow(rebalance, startOffsets: startOffsets)
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
    ///   when one partition failed. During a rebalance the broker may refuse with
    ///   `REBALANCE_IN_PROGRESS` (librdkafka's mock cluster always does while the group
    ///   is joining), and after losing partitions with `ILLEGAL_GENERATION` or
    ///   `UNKNOWN_MEMBER_ID`: the records are then delivered again, to this or another
    ///   member.
    public func commit(offsets: [KafkaPartitionOffset]) async throws(KafkaError) {
        let handle = try openHandle()
        guard !offsets.isEmpty else { return }
        let list = Self.partitionList(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_commit(handle, list, 0)
        for index in 0..<Int(list.pointee.cnt) {
            let entry = list.pointee.elems[index]
            if entry.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                let topic = String(cString: entry.topic)
                throw KafkaError(
                    kind: .commit,
                    context:
                        "could not commit offset \(entry.offset) of \(topic)[\(entry.partition)]",
                    code: entry.err)
            }
        }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let partitions = offsets.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ", ")
            throw KafkaError(kind: .commit, context: "could not commit offsets of \(partitions)", code: code)
        }
    }

    /// Sends a commit of the given positions without waiting for the broker: for the
    /// regular commits of a running consumer, which must not hold up its poll loop (a
    /// synchronous commit waits for the group coordinator, as long as every broker is
    /// down). A commit that fails is not reported; commit synchronously with
    /// ``commit(offsets:)`` before giving partitions up.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/commit`` when librdkafka refuses
    ///   the request at once (for example with no group), or ``KafkaError/Kind/closed``.
    public func commitWithoutWaiting(offsets: [KafkaPartitionOffset]) throws(KafkaError) {
        let handle = try openHandle()
        guard !offsets.isEmpty else { return }
        let list = Self.partitionList(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_commit(handle, list, 1)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let partitions = offsets.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ", ")
            throw KafkaError(kind: .commit, context: "could not commit offsets of \(partitions)", code: code)
        }
    }

    /// Whether librdkafka reported every broker down and its statistics have not shown a
    /// broker connection up since (they come every `statistics.interval.ms`, 5 s unless
    /// configured). librdkafka keeps reconnecting by itself; this only reports it.
    public nonisolated var allBrokersDown: Bool {
        context.allBrokersDown.load(ordering: .relaxed)
    }

    /// A new librdkafka partition list holding `offsets`; the caller destroys it.
    private static func partitionList(_ offsets: [KafkaPartitionOffset]) -> UnsafeMutablePointer<
        rd_kafka_topic_partition_list_t
    > {
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
        for position in offsets {
            let entry = rd_kafka_topic_partition_list_add(list, position.topic, position.partition)
            entry?.pointee.offset = position.offset
        }
        return list
    }

    /// Leaves the group (committing nothing more) and destroys the client. Later calls
    /// throw ``KafkaError/Kind/closed``; closing twice is harmless.
    ///
    /// The partitions still assigned are given up at once, without a rebalance being
    /// reported: commit what is finished before closing.
    public func close() async {
        guard handle != nil else { return }
        tearDown()
        context.logger.debug("closed Kafka consumer", metadata: ["group": "\(groupId)"])
    }

    // MARK: - Internals

    func openHandle() throws(KafkaError) -> OpaquePointer {
        assert(executor.isCurrentThread, "librdkafka used off the consumer's thread")
        guard let handle else {
            throw KafkaError(kind: .closed, message: "the Kafka consumer is closed")
        }
        return handle
    }

    private func pollNow(maxRecords: Int, timeout: Duration) throws(KafkaError) -> KafkaPollResult {
        let handle = try openHandle()
        guard let queue, let wakePipe else {
            throw KafkaError(kind: .closed, message: "the Kafka consumer is closed")
        }
        guard maxRecords >= 1 else {
            throw KafkaError(kind: .invalidArgument, message: "poll needs maxRecords of at least 1, not \(maxRecords)")
        }
        if let pendingRebalance {
            throw KafkaError(
                kind: .invalidArgument,
                message:
                    "poll was called before completeRebalance for the last rebalance (\(pendingRebalance.rebalance))")
        }
        if let event = rebalances.next() {
            return report(event, records: [])
        }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let capacity = min(maxRecords, Self.maxRecordsPerPoll)
        let messages = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: capacity)
        defer { messages.deallocate() }
        while true {
            // Drain first, then consume: an item that arrives after the consume finds the
            // queue empty and writes to the pipe again.
            wakePipe.drain()
            let records = try consumeAvailable(handle, queue, messages, capacity)
            if let event = rebalances.next() {
                return report(event, records: records)
            }
            if !records.isEmpty {
                return KafkaPollResult(records: records)
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return KafkaPollResult(records: []) }
            switch executor.waitForReadable(wakePipe.readDescriptor, timeout: remaining) {
            case .readable, .timedOut:
                continue
            case .workPending:
                return KafkaPollResult(records: [])
            }
        }
    }

    /// Takes what the consumer queue holds now, without waiting: records are copied out and
    /// every message is destroyed; rebalances go to the recorder through the callback.
    private func consumeAvailable(
        _ handle: OpaquePointer, _ queue: OpaquePointer,
        _ messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>, _ capacity: Int
    ) throws(KafkaError) -> [KafkaRecord] {
        let count = rd_kafka_consume_batch_queue(queue, 0, messages, capacity)
        guard count >= 0 else {
            let code = rd_kafka_last_error()
            throw KafkaError(kind: .consume, context: "could not consume from the Kafka consumer queue", code: code)
        }
        var records: [KafkaRecord] = []
        records.reserveCapacity(count)
        var fatal: KafkaError?
        var lastTopic: (handle: OpaquePointer, name: String)?
        for index in 0..<count {
            guard let message = messages[index] else { continue }
            defer { rd_kafka_message_destroy(message) }
            let fields = message.pointee
            var topic = ""
            if let rkt = fields.rkt {
                if let lastTopic, lastTopic.handle == rkt {
                    topic = lastTopic.name
                } else {
                    topic = String(cString: rd_kafka_topic_name(rkt))
                    lastTopic = (rkt, topic)
                }
            }
            switch fields.err {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                records.append(KafkaRecord(copying: message, topic: topic))
            case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                continue
            case RD_KAFKA_RESP_ERR__FATAL:
                if fatal == nil { fatal = fatalError(handle) }
            default:
                let text = String(cString: rd_kafka_message_errstr(message))
                var metadata: Logger.Metadata = [
                    "group": "\(groupId)", "code": "\(String(cString: rd_kafka_err2name(fields.err)))",
                ]
                if !topic.isEmpty {
                    metadata["partition"] = "\(KafkaTopicPartition(topic: topic, partition: fields.partition))"
                }
                context.logger.warning("Kafka consumer error: \(text)", metadata: metadata)
            }
        }
        if let fatal { throw fatal }
        return records
    }

    /// The consumer's fatal error, as librdkafka describes it.
    private func fatalError(_ handle: OpaquePointer) -> KafkaError {
        var text = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(handle, &text, text.count)
        let reason = string(fromBuffer: text)
        return KafkaError(
            kind: .consume,
            message: "the Kafka consumer failed for good: \(reason.isEmpty ? "fatal error" : reason)",
            code: code.rawValue, codeName: String(cString: rd_kafka_err2name(code)), isFatal: true)
    }

    private func report(_ event: KafkaRebalanceRecorder.Event, records: [KafkaRecord]) -> KafkaPollResult {
        pendingRebalance = event
        return KafkaPollResult(
            records: records, rebalance: event.rebalance, assignmentLost: event.assignmentLost)
    }

    private func completeNow(
        _ rebalance: KafkaRebalance, startOffsets: [KafkaTopicPartition: Int64]
    ) throws(KafkaError) {
        let handle = try openHandle()
        guard let pending = pendingRebalance else {
            throw KafkaError(
                kind: .invalidArgument,
                message: "there is no rebalance to complete (\(rebalance)): poll did not report it, or it was completed"
            )
        }
        guard pending.rebalance == rebalance else {
            throw KafkaError(
                kind: .invalidArgument,
                message: "completeRebalance(\(rebalance)) does not match the pending rebalance (\(pending.rebalance))")
        }
        pendingRebalance = nil
        guard !pending.isApplied else { return }
        try KafkaAssignment.apply(rebalance, to: handle, startOffsets: startOffsets)
        context.logger.debug(
            "completed Kafka rebalance", metadata: ["group": "\(groupId)", "rebalance": "\(rebalance)"])
    }

    /// Leaves the group and destroys the client, applying at once any rebalance that is
    /// pending or that librdkafka serves while closing, so that closing cannot hang.
    private func tearDown() {
        guard let handle else { return }
        self.handle = nil
        rebalances.beginClosing()
        let logger = context.logger
        if let pendingRebalance {
            KafkaAssignment.applyWhileClosing(pendingRebalance, to: handle, logger: logger)
            self.pendingRebalance = nil
        }
        for event in rebalances.takeAll() {
            KafkaAssignment.applyWhileClosing(event, to: handle, logger: logger)
        }
        let code = rd_kafka_consumer_close(handle)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.debug(
                "Kafka consumer close reported an error",
                metadata: ["error": "\(String(cString: rd_kafka_err2str(code)))"])
        }
        if let queue {
            rd_kafka_queue_io_event_enable(queue, -1, nil, 0)
            rd_kafka_queue_destroy(queue)
            self.queue = nil
        }
        rd_kafka_destroy(handle)
        wakePipe?.close()
        wakePipe = nil
    }
}
