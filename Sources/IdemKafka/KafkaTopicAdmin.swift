import CRdKafka
import IdemConcurrency
import Logging

/// Creates and deletes topics with the Kafka Admin API (CreateTopics, DeleteTopics), for
/// tests and tools that run against a real cluster.
///
/// Every librdkafka call runs on a thread of its own, never on Swift's cooperative pool;
/// each call makes a short-lived client and destroys it before returning.
public enum KafkaTopicAdmin {
    /// A topic to create.
    public struct NewTopic: Sendable, Hashable {
        /// The topic name.
        public var name: String
        /// The number of partitions, at least 1.
        public var partitions: Int
        /// Replicas per partition; -1 takes the broker's `default.replication.factor`.
        public var replicationFactor: Int

        /// Describes a topic to create.
        public init(name: String, partitions: Int, replicationFactor: Int = -1) {
            self.name = name
            self.partitions = partitions
            self.replicationFactor = replicationFactor
        }
    }

    /// Creates `topics` and waits until the controller has created them.
    ///
    /// - Parameters:
    ///   - topics: the topics.
    ///   - bootstrapServers: the brokers, `host:port` separated by commas.
    ///   - configuration: librdkafka client properties (security, SASL, SSL, …).
    ///   - ifNotExists: count a topic that already exists (`TOPIC_ALREADY_EXISTS`) as
    ///     created.
    ///   - timeout: the most the request may take.
    ///   - logger: receives librdkafka's log lines and client errors.
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/admin`` naming the first topic the
    ///   cluster did not create and why (for example `_UNSUPPORTED_FEATURE` from a broker
    ///   that does not implement CreateTopics), or when no broker answered in time.
    public static func createTopics(
        _ topics: [NewTopic], bootstrapServers: String, configuration: [String: String] = [:],
        ifNotExists: Bool = false, timeout: Duration = .seconds(30), logger: Logger
    ) async throws(KafkaError) {
        guard !topics.isEmpty else { return }
        for topic in topics where topic.name.isEmpty || topic.partitions < 1 {
            throw KafkaError(
                kind: .invalidArgument,
                message: "cannot create topic '\(topic.name)' with \(topic.partitions) partitions")
        }
        try await run(
            "CreateTopics", op: RD_KAFKA_ADMIN_OP_CREATETOPICS, bootstrapServers: bootstrapServers,
            configuration: configuration, timeout: timeout, logger: logger,
            tolerated: ifNotExists ? RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS : nil
        ) { handle, options, queue in
            var errorText = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = []
            defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
            for topic in topics {
                guard
                    let made = rd_kafka_NewTopic_new(
                        topic.name, Int32(clamping: topic.partitions), Int32(clamping: topic.replicationFactor),
                        &errorText, errorText.count)
                else {
                    return KafkaError(
                        kind: .invalidArgument,
                        message: "cannot create topic '\(topic.name)': \(string(fromBuffer: errorText))")
                }
                newTopics.append(made)
            }
            newTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(handle, buffer.baseAddress, buffer.count, options, queue)
            }
            return nil
        } results: { event in
            var count = 0
            let result = rd_kafka_event_CreateTopics_result(event)
            return (rd_kafka_CreateTopics_result_topics(result, &count), count)
        }
    }

    /// Deletes `topics` and waits until the controller has deleted them.
    ///
    /// - Parameters: see ``createTopics(_:bootstrapServers:configuration:ifNotExists:timeout:logger:)``;
    ///   `ifExists` counts a topic that does not exist as deleted.
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/admin``.
    public static func deleteTopics(
        _ names: [String], bootstrapServers: String, configuration: [String: String] = [:],
        ifExists: Bool = true, timeout: Duration = .seconds(30), logger: Logger
    ) async throws(KafkaError) {
        guard !names.isEmpty else { return }
        try await run(
            "DeleteTopics", op: RD_KAFKA_ADMIN_OP_DELETETOPICS, bootstrapServers: bootstrapServers,
            configuration: configuration, timeout: timeout, logger: logger,
            tolerated: ifExists ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART : nil
        ) { handle, options, queue in
            var deletions: [OpaquePointer?] = names.map { rd_kafka_DeleteTopic_new($0) }
            defer { for deletion in deletions { rd_kafka_DeleteTopic_destroy(deletion) } }
            deletions.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_DeleteTopics(handle, buffer.baseAddress, buffer.count, options, queue)
            }
            return nil
        } results: { event in
            var count = 0
            let result = rd_kafka_event_DeleteTopics_result(event)
            return (rd_kafka_DeleteTopics_result_topics(result, &count), count)
        }
    }

    /// Runs one admin request on a thread of its own: makes a client, sends the request with
    /// `send`, waits for its event and checks every topic result.
    private static func run(
        _ name: String, op: rd_kafka_admin_op_t, bootstrapServers: String, configuration: [String: String],
        timeout: Duration, logger: Logger, tolerated: rd_kafka_resp_err_t?,
        send: @escaping @Sendable (OpaquePointer, OpaquePointer, OpaquePointer) -> KafkaError?,
        results: @escaping @Sendable (OpaquePointer) -> (UnsafeMutablePointer<OpaquePointer?>?, Int)
    ) async throws(KafkaError) {
        let executor = ThreadExecutor(name: "idem-kafka-admin")
        defer { executor.shutdown() }
        let context = KafkaClientContext(logger: logger)
        let outcome: KafkaError? = await executor.run { () -> KafkaError? in
            do throws(KafkaError) {
                return try KafkaAdminClient.withHandle(
                    bootstrapServers: bootstrapServers, configuration: configuration, context: context
                ) { handle throws(KafkaError) -> KafkaError? in
                    guard let queue = rd_kafka_queue_new(handle) else {
                        return KafkaError(kind: .admin, message: "\(name): could not create a result queue")
                    }
                    defer { rd_kafka_queue_destroy(queue) }
                    guard let options = rd_kafka_AdminOptions_new(handle, op) else {
                        return KafkaError(kind: .admin, message: "\(name): could not create the options")
                    }
                    defer { rd_kafka_AdminOptions_destroy(options) }
                    var errorText = [CChar](repeating: 0, count: 512)
                    let limit = max(1, milliseconds(timeout))
                    var code = rd_kafka_AdminOptions_set_request_timeout(options, limit, &errorText, errorText.count)
                    if code == RD_KAFKA_RESP_ERR_NO_ERROR {
                        code = rd_kafka_AdminOptions_set_operation_timeout(options, limit, &errorText, errorText.count)
                    }
                    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        return KafkaError(
                            kind: .admin, context: "\(name) options: \(string(fromBuffer: errorText))", code: code)
                    }
                    if let error = send(handle, options, queue) { return error }
                    guard let event = rd_kafka_queue_poll(queue, limit + 1000) else {
                        return KafkaError(
                            kind: .admin, message: "\(name): no answer from \(bootstrapServers) within \(timeout)")
                    }
                    defer { rd_kafka_event_destroy(event) }
                    if let error = KafkaAdminClient.error(of: event, message: { "\(name): \($0)" }) { return error }
                    let (topics, count) = results(event)
                    guard let topics else { return nil }
                    for index in 0..<count {
                        guard let topic = topics[index] else { continue }
                        let code = rd_kafka_topic_result_error(topic)
                        guard code != RD_KAFKA_RESP_ERR_NO_ERROR, code != tolerated else { continue }
                        let topicName = String(cString: rd_kafka_topic_result_name(topic))
                        let text =
                            rd_kafka_topic_result_error_string(topic).map { String(cString: $0) }
                            ?? String(cString: rd_kafka_err2str(code))
                        return KafkaError(
                            kind: .admin, message: "\(name): topic '\(topicName)': \(text)", code: code.rawValue,
                            codeName: String(cString: rd_kafka_err2name(code)))
                    }
                    return nil
                }
            } catch {
                return error
            }
        }
        if let outcome { throw outcome }
    }
}
