import CRdKafka
import IdemConcurrency
import IdemKafka
import Logging
import Synchronization

/// librdkafka's in-process mock Kafka cluster: real Kafka protocol on loopback TCP ports,
/// with topics, consumer groups, committed offsets and fault injection, for tests and
/// development where no Kafka broker is available.
///
/// Any Kafka client, in this process or another, can use ``bootstrapServers``.
///
/// ```swift
/// let cluster = try await KafkaMockCluster.start(brokerCount: 1, logger: logger)
/// try await cluster.createTopic(name: "orders", partitions: 3)
/// // … clients connect to cluster.bootstrapServers …
/// await cluster.shutdown()
/// ```
public final class KafkaMockCluster: @unchecked Sendable {
    // @unchecked Sendable: owns two C handles, an rd_kafka_t and the
    // rd_kafka_mock_cluster_t it hosts. They are kept in `handles` behind a Mutex and are
    // only passed to librdkafka on `executor`'s thread, never concurrently.

    private struct Handles {
        var client: OpaquePointer
        var cluster: OpaquePointer
    }

    private let executor: ThreadExecutor
    private let handles: Mutex<Handles?>
    /// Keeps the logger reachable from librdkafka's log callback while the handle lives.
    private let context: KafkaClientContext

    /// The brokers' addresses, comma-separated (e.g. `127.0.0.1:40219`), for the clients'
    /// `bootstrap.servers`.
    public let bootstrapServers: String
    /// The number of brokers; their IDs are 1 through `brokerCount`.
    public let brokerCount: Int

    private init(
        executor: ThreadExecutor, client: OpaquePointer, cluster: OpaquePointer,
        context: KafkaClientContext, brokerCount: Int
    ) {
        self.executor = executor
        // The handles were just created on the cluster's thread and nothing else has them.
        nonisolated(unsafe) let owned: Handles? = Handles(client: client, cluster: cluster)
        self.handles = Mutex(owned)
        self.context = context
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        self.brokerCount = brokerCount
    }

    deinit {
        // Without an explicit shutdown(): destroy the handles on their own thread, then let
        // the thread end.
        if let taken = handles.withLock({ $0.take() }) {
            nonisolated(unsafe) let owned = taken
            let context = context
            executor.submit {
                Self.destroy(owned)
                _ = context
            }
        }
        executor.shutdown()
    }

    /// Starts a mock cluster with `brokerCount` brokers listening on loopback ports.
    ///
    /// - Parameters:
    ///   - brokerCount: how many brokers, at least 1.
    ///   - logger: receives librdkafka's log lines for the cluster.
    /// - Throws: ``KafkaError`` if the arguments are out of range or the cluster cannot
    ///   start.
    public static func start(brokerCount: Int = 1, logger: Logger) async throws(KafkaError)
        -> KafkaMockCluster
    {
        guard (1...64).contains(brokerCount) else {
            throw KafkaError(
                kind: .invalidArgument,
                message: "a mock cluster needs 1 to 64 brokers, not \(brokerCount)")
        }
        let executor = ThreadExecutor(name: "idem-kafka-mock")
        let context = KafkaClientContext(logger: logger)
        let result: Result<KafkaMockCluster, KafkaError> = await executor.run {
            do throws(KafkaError) {
                // The internal client never connects anywhere; keep its notices (such as "no
                // bootstrap.servers") out of the log, but not the warnings of the cluster.
                let conf = try context.makeConfiguration([
                    ("client.id", "idem-kafka-mock"), ("log_level", "4"),
                ])
                let client = try KafkaClientContext.makeHandle(
                    type: RD_KAFKA_PRODUCER, conf: conf)
                guard let cluster = rd_kafka_mock_cluster_new(client, Int32(brokerCount)) else {
                    rd_kafka_destroy(client)
                    throw KafkaError(
                        kind: .mockCluster, message: "could not start the Kafka mock cluster")
                }
                return .success(
                    KafkaMockCluster(
                        executor: executor, client: client, cluster: cluster, context: context,
                        brokerCount: brokerCount))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let cluster):
            logger.debug(
                "started Kafka mock cluster",
                metadata: [
                    "bootstrap_servers": "\(cluster.bootstrapServers)", "brokers": "\(brokerCount)",
                ])
            return cluster
        case .failure(let error):
            executor.shutdown()
            throw error
        }
    }

    /// Creates a topic.
    ///
    /// - Parameters:
    ///   - name: the topic name.
    ///   - partitions: the number of partitions, at least 1.
    ///   - replicationFactor: replicas per partition, 1 through ``brokerCount``.
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/mockCluster`` (for example
    ///   `TOPIC_ALREADY_EXISTS`) or ``KafkaError/Kind/invalidArgument``.
    public func createTopic(name: String, partitions: Int, replicationFactor: Int = 1)
        async throws(KafkaError)
    {
        guard !name.isEmpty, partitions >= 1, partitions <= Int(Int32.max) else {
            throw KafkaError(
                kind: .invalidArgument,
                message:
                    "cannot create topic '\(name)' with \(partitions) partitions: the name must not be empty and partitions must be at least 1"
            )
        }
        guard (1...brokerCount).contains(replicationFactor) else {
            throw KafkaError(
                kind: .invalidArgument,
                message:
                    "cannot create topic '\(name)' with replication factor \(replicationFactor): it must be 1 to \(brokerCount) (the number of brokers)"
            )
        }
        try await perform("create topic '\(name)'") { cluster in
            rd_kafka_mock_topic_create(
                cluster, name, Int32(partitions), Int32(replicationFactor))
        }
    }

    /// Takes broker `id` (1 through ``brokerCount``) down: its connections close and it
    /// refuses new ones until ``setBrokerUp(_:)``.
    public func setBrokerDown(_ id: Int32) async throws(KafkaError) {
        try checkBroker(id)
        try await perform("set broker \(id) down") { rd_kafka_mock_broker_set_down($0, id) }
    }

    /// Brings broker `id` back up.
    public func setBrokerUp(_ id: Int32) async throws(KafkaError) {
        try checkBroker(id)
        try await perform("set broker \(id) up") { rd_kafka_mock_broker_set_up($0, id) }
    }

    /// Makes the brokers answer metadata requests for topic `name` with error `code` (a
    /// librdkafka `rd_kafka_resp_err_t` value, as in ``KafkaError/code``; for example 3,
    /// `UNKNOWN_TOPIC_OR_PART`), as a broker does while a topic is being created. Code 0
    /// clears it. Creates the topic (with the mock's default 4 partitions) if it does not
    /// exist.
    public func setTopicError(_ name: String, code: Int32) async throws(KafkaError) {
        guard !name.isEmpty else {
            throw KafkaError(kind: .invalidArgument, message: "cannot set the error of a topic without a name")
        }
        let error = rd_kafka_resp_err_t(rawValue: code)
        try await perform("set the error of topic '\(name)'") { cluster in
            rd_kafka_mock_topic_set_error(cluster, name, error)
            return RD_KAFKA_RESP_ERR_NO_ERROR
        }
    }

    /// Stops the brokers and releases the handles. Later calls throw
    /// ``KafkaError/Kind/closed``; shutting down twice is harmless.
    public func shutdown() async {
        guard let taken = handles.withLock({ $0.take() }) else { return }
        nonisolated(unsafe) let owned = taken
        await executor.run { Self.destroy(owned) }
        // The thread stays until deinit: a job enqueued on a stopped ThreadExecutor would
        // never run, and later calls still need it to report `.closed`.
        context.logger.debug(
            "stopped Kafka mock cluster", metadata: ["bootstrap_servers": "\(bootstrapServers)"])
    }

    // MARK: - Internals

    private func checkBroker(_ id: Int32) throws(KafkaError) {
        guard id >= 1, Int(id) <= brokerCount else {
            throw KafkaError(
                kind: .invalidArgument,
                message: "there is no broker \(id); broker IDs are 1 to \(brokerCount)")
        }
    }

    /// Runs `body` with the cluster handle on the cluster's thread and maps its error.
    private func perform(
        _ what: String, _ body: @escaping @Sendable (OpaquePointer) -> rd_kafka_resp_err_t
    ) async throws(KafkaError) {
        let code: rd_kafka_resp_err_t? = await executor.run {
            assert(self.executor.isCurrentThread, "librdkafka used off the cluster's thread")
            return self.handles.withLock { handles -> rd_kafka_resp_err_t? in
                guard let handles else { return nil }
                return body(handles.cluster)
            }
        }
        guard let code else {
            throw KafkaError(
                kind: .closed, message: "cannot \(what): the Kafka mock cluster is shut down")
        }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(kind: .mockCluster, context: "could not \(what)", code: code)
        }
    }

    private static func destroy(_ handles: Handles) {
        rd_kafka_mock_cluster_destroy(handles.cluster)
        rd_kafka_destroy(handles.client)
    }
}
