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

    /// Creates settings.
    public init(
        brokers: String, topics: [String], group: String, deadLetterTopic: String? = nil,
        commitInterval: Duration = .seconds(1), properties: [String: String] = [:]
    ) {
        self.brokers = brokers
        self.topics = topics
        self.group = group
        self.deadLetterTopic = deadLetterTopic
        self.commitInterval = commitInterval
        self.properties = properties
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
