import CRdKafka
import IdemConcurrency
import Logging

/// Reads topic configurations (`retention.ms`, `cleanup.policy`, …) from a Kafka cluster
/// with the Admin API's DescribeConfigs, for `idem check-config`.
///
/// Every librdkafka call runs on a thread of its own, never on Swift's cooperative pool, and
/// the whole read ends within the timeout given, brokers down or not: a metadata request
/// finds a broker that answers, and DescribeConfigs goes to that broker (any broker answers
/// it for topics, as the Java admin client relies on), rather than waiting for the
/// controller, which librdkafka's mock cluster never names.
public enum KafkaTopicConfigReader {
    /// One topic's configuration entries by name (sensitive values left out), or why the
    /// broker could not describe it (an unknown topic, an authorization failure).
    public typealias TopicConfigs = Result<[String: String], KafkaError>

    /// Describes `topics`.
    ///
    /// - Parameters:
    ///   - topics: the topic names.
    ///   - bootstrapServers: the brokers, `host:port` separated by commas.
    ///   - configuration: librdkafka client properties (security, SASL, SSL, …), applied
    ///     after the defaults.
    ///   - timeout: the most the whole read may take.
    ///   - logger: receives librdkafka's log lines and client errors.
    /// - Returns: each topic's configuration or error, by topic name.
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/admin`` when no broker answered in
    ///   time or the request failed as a whole (for example `_UNSUPPORTED_FEATURE`, from a
    ///   broker that does not implement DescribeConfigs), or of kind
    ///   ``KafkaError/Kind/configuration`` naming a bad property.
    public static func describe(
        topics: [String], bootstrapServers: String, configuration: [String: String] = [:], timeout: Duration,
        logger: Logger
    ) async throws(KafkaError) -> [String: TopicConfigs] {
        guard !topics.isEmpty else { return [:] }
        let executor = ThreadExecutor(name: "idem-kafka-admin")
        defer { executor.shutdown() }
        let context = KafkaClientContext(logger: logger)
        return try await executor.run { () throws(KafkaError) -> [String: TopicConfigs] in
            try describeBlocking(
                topics: topics, bootstrapServers: bootstrapServers, configuration: configuration,
                deadline: ContinuousClock.now + timeout, timeout: timeout, context: context)
        }
    }

    /// The blocking read, on the executor's thread. `context` lives until the handle is
    /// destroyed, before this returns.
    private static func describeBlocking(
        topics: [String], bootstrapServers: String, configuration: [String: String],
        deadline: ContinuousClock.Instant, timeout: Duration, context: KafkaClientContext
    ) throws(KafkaError) -> [String: TopicConfigs] {
        try KafkaAdminClient.withHandle(
            bootstrapServers: bootstrapServers, configuration: configuration, context: context
        ) { handle throws(KafkaError) -> [String: TopicConfigs] in
            try describe(
                topics: topics, handle: handle, bootstrapServers: bootstrapServers, deadline: deadline, timeout: timeout
            )
        }
    }

    /// DescribeConfigs of `topics` through `handle`, sent to a broker that answers.
    private static func describe(
        topics: [String], handle: OpaquePointer, bootstrapServers: String, deadline: ContinuousClock.Instant,
        timeout: Duration
    ) throws(KafkaError) -> [String: TopicConfigs] {
        let broker = try answeringBroker(
            handle, bootstrapServers: bootstrapServers, deadline: deadline, timeout: timeout)

        guard let queue = rd_kafka_queue_new(handle) else {
            throw KafkaError(kind: .admin, message: "could not create a queue for the DescribeConfigs result")
        }
        defer { rd_kafka_queue_destroy(queue) }
        guard let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS) else {
            throw KafkaError(kind: .admin, message: "could not create the DescribeConfigs options")
        }
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errorText = [CChar](repeating: 0, count: 512)
        let requestTimeout = max(1, milliseconds(deadline - ContinuousClock.now))
        var code = rd_kafka_AdminOptions_set_request_timeout(options, requestTimeout, &errorText, errorText.count)
        if code == RD_KAFKA_RESP_ERR_NO_ERROR {
            code = rd_kafka_AdminOptions_set_broker(options, broker, &errorText, errorText.count)
        }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                kind: .admin, context: "DescribeConfigs options: \(string(fromBuffer: errorText))", code: code)
        }

        var resources: [OpaquePointer?] = topics.map { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, $0) }
        defer { for resource in resources { rd_kafka_ConfigResource_destroy(resource) } }
        resources.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_DescribeConfigs(handle, buffer.baseAddress, buffer.count, options, queue)
        }
        // librdkafka times the request out itself; the margin only covers its bookkeeping.
        guard let event = rd_kafka_queue_poll(queue, requestTimeout + 500) else {
            throw KafkaError(
                kind: .admin, message: "DescribeConfigs: no answer from broker \(broker) within \(timeout)")
        }
        defer { rd_kafka_event_destroy(event) }
        if let error = KafkaAdminClient.error(
            of: event, message: { $0.contains("DescribeConfigs") ? $0 : "DescribeConfigs: \($0)" })
        {
            throw error
        }
        guard let result = rd_kafka_event_DescribeConfigs_result(event) else {
            throw KafkaError(
                kind: .admin, message: "DescribeConfigs: the broker's answer is not a DescribeConfigs result")
        }
        return described(result)
    }

    /// Asks the brokers for metadata and returns the ID of the one that answered.
    private static func answeringBroker(
        _ handle: OpaquePointer, bootstrapServers: String, deadline: ContinuousClock.Instant, timeout: Duration
    ) throws(KafkaError) -> Int32 {
        var metadata: UnsafePointer<rd_kafka_metadata_t>?
        let code = rd_kafka_metadata(
            handle, 0, nil, &metadata, max(1, milliseconds(deadline - ContinuousClock.now)))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(
                kind: .admin, context: "no broker of \(bootstrapServers) answered within \(timeout)", code: code)
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        return metadata.pointee.orig_broker_id
    }

    /// Each resource of a DescribeConfigs result: its entries or its error.
    private static func described(_ result: OpaquePointer) -> [String: TopicConfigs] {
        var count = 0
        guard let resources = rd_kafka_DescribeConfigs_result_resources(result, &count) else { return [:] }
        var topics: [String: TopicConfigs] = [:]
        for index in 0..<count {
            guard let resource = resources[index] else { continue }
            let name = String(cString: rd_kafka_ConfigResource_name(resource))
            let code = rd_kafka_ConfigResource_error(resource)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                let text = rd_kafka_ConfigResource_error_string(resource).map { String(cString: $0) } ?? ""
                topics[name] = .failure(
                    KafkaError(
                        kind: .admin,
                        message: "topic '\(name)': \(text.isEmpty ? String(cString: rd_kafka_err2str(code)) : text)",
                        code: code.rawValue, codeName: String(cString: rd_kafka_err2name(code))))
                continue
            }
            var entryCount = 0
            var entries: [String: String] = [:]
            if let configs = rd_kafka_ConfigResource_configs(resource, &entryCount) {
                for entryIndex in 0..<entryCount {
                    guard let entry = configs[entryIndex], let value = rd_kafka_ConfigEntry_value(entry) else {
                        continue
                    }
                    entries[String(cString: rd_kafka_ConfigEntry_name(entry))] = String(cString: value)
                }
            }
            topics[name] = .success(entries)
        }
        return topics
    }
}
