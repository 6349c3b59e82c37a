import CRdKafka
import IdemConcurrency
import Logging
import Synchronization

/// A Kafka producer that returns each record's delivery report.
///
/// Every librdkafka call runs on the producer's own threads, never on Swift's cooperative
/// pool: the actor's methods run on one ``ThreadExecutor``, and a second one polls for
/// delivery reports, which resume the waiting ``produce(topic:key:value:headers:partition:)``
/// calls. Many `produce` calls may wait at once; librdkafka batches them.
public actor KafkaProducer {
    private let executor: ThreadExecutor
    private let poller: ThreadExecutor
    private let context: KafkaClientContext
    private let polling: PollControl
    private var handle: OpaquePointer?

    /// Runs this actor on its own thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init(context: KafkaClientContext) {
        self.executor = ThreadExecutor(name: "idem-kafka-prod")
        self.poller = ThreadExecutor(name: "idem-kafka-poll")
        self.context = context
        self.polling = PollControl()
    }

    isolated deinit {
        // Without close(): stop polling, then destroy the handle on the polling thread once
        // its loop has ended (its jobs run in order).
        polling.stop()
        if let handle {
            nonisolated(unsafe) let owned = handle
            let context = context
            poller.submit {
                Self.drainAndDestroy(owned, flushTimeout: .zero)
                _ = context
            }
        }
        poller.shutdown()
        executor.shutdown()
    }

    /// Creates a producer.
    ///
    /// - Parameters:
    ///   - bootstrapServers: the brokers, `host:port` separated by commas.
    ///   - configuration: librdkafka properties (see librdkafka's CONFIGURATION.md), applied
    ///     after the defaults (`client.id` = `idem`) so they override them.
    ///   - logger: receives librdkafka's log lines and client errors.
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/configuration`` naming a bad
    ///   property, or ``KafkaError/Kind/clientCreation``.
    public static func make(
        bootstrapServers: String,
        configuration: [String: String] = [:],
        logger: Logger
    ) async throws(KafkaError) -> KafkaProducer {
        let producer = KafkaProducer(context: KafkaClientContext(logger: logger))
        try await producer.open(bootstrapServers: bootstrapServers, configuration: configuration)
        return producer
    }

    private func open(bootstrapServers: String, configuration: [String: String])
        throws(KafkaError)
    {
        let properties = KafkaClientContext.properties(
            defaults: ["client.id": "idem"], caller: configuration,
            forced: ["bootstrap.servers": bootstrapServers])
        let conf = try context.makeConfiguration(properties)
        rd_kafka_conf_set_dr_msg_cb(conf, kafkaDeliveryReportCallback)
        let handle = try KafkaClientContext.makeHandle(type: RD_KAFKA_PRODUCER, conf: conf)
        self.handle = handle
        nonisolated(unsafe) let polled = handle
        let polling = polling
        poller.submit {
            while polling.isRunning {
                rd_kafka_poll(polled, 100)
            }
        }
    }

    /// Produces one record and waits for its delivery report.
    ///
    /// - Parameters:
    ///   - topic: the topic.
    ///   - key: the record key; records with the same key go to the same partition.
    ///   - value: the record value (`nil` for a tombstone).
    ///   - headers: the record headers, in order.
    ///   - partition: a fixed partition, or `nil` to let the partitioner choose.
    /// - Returns: where the broker stored the record.
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/produce`` if the record could not
    ///   be enqueued, or ``KafkaError/Kind/delivery`` if the broker did not take it (for
    ///   example `_MSG_TIMED_OUT` after `message.timeout.ms`).
    public func produce(
        topic: String,
        key: [UInt8]? = nil,
        value: [UInt8]?,
        headers: [KafkaHeader] = [],
        partition: Int32? = nil
    ) async throws(KafkaError) -> KafkaDeliveryReport {
        assert(executor.isCurrentThread, "librdkafka used off the producer's thread")
        guard let handle else {
            throw KafkaError(kind: .closed, message: "the Kafka producer is closed")
        }
        let result: Result<KafkaDeliveryReport, KafkaError> = await withCheckedContinuation {
            continuation in
            let waiter = Unmanaged.passRetained(DeliveryWaiter { continuation.resume(returning: $0) }).toOpaque()
            if let error = Self.enqueue(
                handle, topic: topic, key: key, value: value, headers: headers,
                partition: partition, opaque: waiter)
            {
                Unmanaged<DeliveryWaiter>.fromOpaque(waiter).release()
                continuation.resume(returning: .failure(error))
            }
        }
        return try result.get()
    }

    /// Produces `records` in their order (librdkafka keeps it within each partition) and
    /// waits for every delivery report.
    ///
    /// Unlike concurrent ``produce(topic:key:value:headers:partition:)`` calls, whose order
    /// of arrival on the producer's thread is not defined, the records are enqueued one
    /// after the other before any report is awaited.
    ///
    /// - Returns: each record's delivery report or error (see
    ///   ``produce(topic:key:value:headers:partition:)``), in the order of `records`.
    public func produce(_ records: [KafkaOutgoingRecord]) async -> [Result<KafkaDeliveryReport, KafkaError>] {
        assert(executor.isCurrentThread, "librdkafka used off the producer's thread")
        guard let handle else {
            let closed = KafkaError(kind: .closed, message: "the Kafka producer is closed")
            return records.map { _ in .failure(closed) }
        }
        guard !records.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let batch = DeliveryBatch(count: records.count, continuation: continuation)
            for (index, record) in records.enumerated() {
                let waiter = Unmanaged.passRetained(DeliveryWaiter { batch.complete(index, $0) }).toOpaque()
                if let error = Self.enqueue(
                    handle, topic: record.topic, key: record.key, value: record.value, headers: record.headers,
                    partition: record.partition, opaque: waiter)
                {
                    Unmanaged<DeliveryWaiter>.fromOpaque(waiter).release()
                    batch.complete(index, .failure(error))
                }
            }
        }
    }

    /// Waits until every produced record has its delivery report.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/flush`` if records are still
    ///   outstanding after `timeout`.
    public func flush(timeout: Duration = .seconds(10)) async throws(KafkaError) {
        assert(executor.isCurrentThread, "librdkafka used off the producer's thread")
        guard let handle else {
            throw KafkaError(kind: .closed, message: "the Kafka producer is closed")
        }
        let code = rd_kafka_flush(handle, milliseconds(timeout))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let outstanding = rd_kafka_outq_len(handle)
            throw KafkaError(
                kind: .flush,
                context: "\(outstanding) records were still outstanding after \(timeout)",
                code: code)
        }
    }

    /// Flushes for up to `timeout`, fails the records still outstanding (their `produce`
    /// calls throw `_PURGE_QUEUE`/`_PURGE_INFLIGHT`), and destroys the client. Later calls
    /// throw ``KafkaError/Kind/closed``; closing twice is harmless.
    public func close(timeout: Duration = .seconds(10)) async {
        guard let handle else { return }
        self.handle = nil
        polling.stop()
        nonisolated(unsafe) let owned = handle
        // Runs after the poll loop has returned, on the same thread.
        await poller.run { Self.drainAndDestroy(owned, flushTimeout: timeout) }
        context.logger.debug("closed Kafka producer")
    }

    // MARK: - Internals

    /// Enqueues a record with `rd_kafka_produceva`; returns the error if it was refused.
    private static func enqueue(
        _ handle: OpaquePointer, topic: String, key: [UInt8]?, value: [UInt8]?,
        headers: [KafkaHeader], partition: Int32?, opaque: UnsafeMutableRawPointer
    ) -> KafkaError? {
        var cHeaders: OpaquePointer? = nil
        if !headers.isEmpty {
            cHeaders = rd_kafka_headers_new(headers.count)
            for header in headers {
                let code: rd_kafka_resp_err_t
                if let value = header.value {
                    code = value.withUnsafeBytes { bytes in
                        rd_kafka_header_add(
                            cHeaders, header.key, -1, bytes.baseAddress, bytes.count)
                    }
                } else {
                    code = rd_kafka_header_add(cHeaders, header.key, -1, nil, 0)
                }
                if code != RD_KAFKA_RESP_ERR_NO_ERROR {
                    rd_kafka_headers_destroy(cHeaders)
                    return KafkaError(
                        kind: .produce, context: "could not add header '\(header.key)'",
                        code: code)
                }
            }
        }
        let error: OpaquePointer? = topic.withCString { topicName in
            withOptionalBytes(key) { keyBytes in
                withOptionalBytes(value) { valueBytes in
                    var values: [rd_kafka_vu_t] = []
                    var item = rd_kafka_vu_t()
                    item.vtype = RD_KAFKA_VTYPE_TOPIC
                    item.u.cstr = topicName
                    values.append(item)
                    item = rd_kafka_vu_t()
                    item.vtype = RD_KAFKA_VTYPE_PARTITION
                    item.u.i32 = partition ?? RD_KAFKA_PARTITION_UA
                    values.append(item)
                    item = rd_kafka_vu_t()
                    item.vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    item.u.i = RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK
                    values.append(item)
                    if let valueBytes {
                        item = rd_kafka_vu_t()
                        item.vtype = RD_KAFKA_VTYPE_VALUE
                        item.u.mem.ptr = UnsafeMutableRawPointer(mutating: valueBytes.baseAddress)
                        item.u.mem.size = valueBytes.count
                        values.append(item)
                    }
                    if let keyBytes {
                        item = rd_kafka_vu_t()
                        item.vtype = RD_KAFKA_VTYPE_KEY
                        item.u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBytes.baseAddress)
                        item.u.mem.size = keyBytes.count
                        values.append(item)
                    }
                    if let cHeaders {
                        item = rd_kafka_vu_t()
                        item.vtype = RD_KAFKA_VTYPE_HEADERS
                        item.u.headers = cHeaders
                        values.append(item)
                    }
                    item = rd_kafka_vu_t()
                    item.vtype = RD_KAFKA_VTYPE_OPAQUE
                    item.u.ptr = opaque
                    values.append(item)
                    return rd_kafka_produceva(handle, values, values.count)
                }
            }
        }
        guard let error else { return nil }
        // On failure the headers still belong to the caller.
        if let cHeaders { rd_kafka_headers_destroy(cHeaders) }
        let code = rd_kafka_error_code(error)
        let text = String(cString: rd_kafka_error_string(error))
        let fatal = rd_kafka_error_is_fatal(error) != 0
        rd_kafka_error_destroy(error)
        return KafkaError(
            kind: .produce,
            message: "could not produce to topic '\(topic)': \(text)",
            code: code.rawValue, codeName: String(cString: rd_kafka_err2name(code)),
            isFatal: fatal)
    }

    /// Flushes, purges what remains (serving those reports as failures) and destroys.
    private static func drainAndDestroy(_ handle: OpaquePointer, flushTimeout: Duration) {
        if flushTimeout > .zero {
            _ = rd_kafka_flush(handle, milliseconds(flushTimeout))
        }
        _ = rd_kafka_purge(handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        // Serve the purged records' delivery reports so their waiters resume.
        _ = rd_kafka_flush(handle, 1000)
        rd_kafka_poll(handle, 0)
        rd_kafka_destroy(handle)
    }
}

/// Tells the polling loop to stop; shared by the actor and its polling thread.
private final class PollControl: Sendable {
    private let running = Atomic<Bool>(true)

    var isRunning: Bool { running.load(ordering: .acquiring) }

    func stop() { running.store(false, ordering: .releasing) }
}

/// What to do with one record's delivery report, passed to librdkafka as the message opaque
/// and taken back (retained once) by the delivery report callback.
private final class DeliveryWaiter: Sendable {
    let complete: @Sendable (Result<KafkaDeliveryReport, KafkaError>) -> Void

    init(_ complete: @escaping @Sendable (Result<KafkaDeliveryReport, KafkaError>) -> Void) {
        self.complete = complete
    }
}

/// The reports of a batch of records, resuming its caller once all are in.
private final class DeliveryBatch: Sendable {
    private struct State {
        var results: [Result<KafkaDeliveryReport, KafkaError>?]
        var remaining: Int
    }

    private let state: Mutex<State>
    private let continuation: CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>

    init(count: Int, continuation: CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>) {
        self.state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count))
        self.continuation = continuation
    }

    func complete(_ index: Int, _ result: Result<KafkaDeliveryReport, KafkaError>) {
        let finished: [Result<KafkaDeliveryReport, KafkaError>]? = state.withLock { state in
            state.results[index] = result
            state.remaining -= 1
            return state.remaining == 0 ? state.results.map { $0! } : nil
        }
        if let finished { continuation.resume(returning: finished) }
    }
}

/// Resumes the `produce` call waiting for this record (runs on the polling thread).
private func kafkaDeliveryReportCallback(
    _ handle: OpaquePointer?, _ message: UnsafePointer<rd_kafka_message_t>?,
    _ opaque: UnsafeMutableRawPointer?
) {
    guard let message, let waiterPointer = message.pointee._private else { return }
    let waiter = Unmanaged<DeliveryWaiter>.fromOpaque(waiterPointer).takeRetainedValue()
    let record = message.pointee
    let topic = record.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
    if record.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        waiter.complete(
            .success(
                KafkaDeliveryReport(topic: topic, partition: record.partition, offset: record.offset)))
    } else {
        waiter.complete(
            .failure(
                KafkaError(
                    kind: .delivery, context: "record to topic '\(topic)' was not delivered",
                    code: record.err)))
    }
}

/// Calls `body` with the bytes of `data`, or with nil when `data` is nil.
private func withOptionalBytes<Result>(
    _ data: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> Result
) -> Result {
    guard let data else { return body(nil) }
    return data.withUnsafeBytes { body($0) }
}

/// `duration` in whole milliseconds for librdkafka timeouts (clamped to `Int32`).
func milliseconds(_ duration: Duration) -> Int32 {
    let (seconds, attoseconds) = duration.components
    let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    return Int32(clamping: max(0, total))
}
