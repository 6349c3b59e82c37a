import IdemCore

/// Kafka topics to consume in a consumer group, and where dead letters go.
public struct KafkaSourceConfig: Sendable, Hashable {
    /// `host:port[,host:port…]`.
    public var brokers: String
    /// The topics to subscribe to.
    public var topics: [String]
    /// The consumer group.
    public var group: String
    /// The dead-letter topic; `nil` means `<topic>.dlq` for each topic.
    public var deadLetterTopic: String?
    /// How often done offsets are committed.
    public var commitInterval: Duration
    /// librdkafka properties passed through as they are (`security.protocol`, `sasl.*`,
    /// `ssl.*`, …). Values may hold secrets.
    public var properties: [String: String]
    /// Static group membership (`group.instance.id`, KIP-345): a member that restarts with
    /// the same ID within the session timeout takes its partitions back at once, without a
    /// rebalance. `nil`: dynamic membership.
    public var groupInstanceID: String?
    /// How long the group waits for a silent member before giving its partitions to others
    /// (`session.timeout.ms`).
    public var sessionTimeout: Duration
    /// How often the member tells the group it is alive (`heartbeat.interval.ms`); at most a
    /// third of the session timeout.
    public var heartbeatInterval: Duration

    /// The default session timeout: 10 s, instead of librdkafka's 45 s, so that a crashed
    /// worker's partitions move on within 10 s. librdkafka heartbeats from its own thread,
    /// so a long handler call does not miss one (`max.poll.interval.ms` bounds those).
    public static let defaultSessionTimeout = Duration.seconds(10)
    /// The default heartbeat interval: 3 s, librdkafka's.
    public static let defaultHeartbeatInterval = Duration.seconds(3)

    /// Creates settings.
    public init(
        brokers: String, topics: [String], group: String, deadLetterTopic: String? = nil,
        commitInterval: Duration = .seconds(1), properties: [String: String] = [:], groupInstanceID: String? = nil,
        sessionTimeout: Duration = Self.defaultSessionTimeout,
        heartbeatInterval: Duration = Self.defaultHeartbeatInterval
    ) {
        self.brokers = brokers
        self.topics = topics
        self.group = group
        self.deadLetterTopic = deadLetterTopic
        self.commitInterval = commitInterval
        self.properties = properties
        self.groupInstanceID = groupInstanceID
        self.sessionTimeout = sessionTimeout
        self.heartbeatInterval = heartbeatInterval
    }

    /// The librdkafka properties of its consumer: the pass-through ones, with the session
    /// timeout, the heartbeat interval and the static member ID (when set) of these
    /// settings, unless the pass-through properties set them themselves.
    public var consumerProperties: [String: String] {
        var properties = self.properties
        properties["session.timeout.ms"] = properties["session.timeout.ms"] ?? String(sessionTimeout.wholeMilliseconds)
        properties["heartbeat.interval.ms"] =
            properties["heartbeat.interval.ms"] ?? String(heartbeatInterval.wholeMilliseconds)
        if let groupInstanceID { properties["group.instance.id"] = groupInstanceID }
        return properties
    }

    /// The properties a producer for this source takes over from the consumer's
    /// pass-through ones (security, SASL, SSL, client id, socket settings), with
    /// idempotence on: dead letters and `idem publish` go to the same cluster, the same way.
    public var producerProperties: [String: String] {
        var properties = self.properties.filter { key, _ in
            key.hasPrefix("security.") || key.hasPrefix("sasl.") || key.hasPrefix("ssl.") || key == "client.id"
                || key.hasPrefix("socket.") || key == "broker.address.family"
        }
        properties["enable.idempotence"] = "true"
        return properties
    }

    /// The dead-letter topic for records of `topic`.
    public func deadLetterTopic(for topic: String) -> String {
        deadLetterTopic ?? "\(topic).dlq"
    }

    /// What its messages carry beyond a body and headers: a key and a position (topic, partition, offset).
    public static let messageFeatures: MessageFeatures = [.recordKey, .logPosition]
}
