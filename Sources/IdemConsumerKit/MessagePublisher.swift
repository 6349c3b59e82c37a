import IdemCore

/// Sends messages to one ``PublishTarget`` and waits for the broker to take them (publisher
/// confirms, delivery reports): what `idem publish` and `idem replay` use, from
/// ``BrokerAdapter/openPublisher(_:client:deliveryTimeout:logger:)``.
public protocol MessagePublisher: Sendable {
    /// The most messages worth sending between two waits for the broker.
    var batchLimit: Int { get }

    /// Sends `messages` in order and returns once the broker took every one.
    ///
    /// - Throws: ``PublishFailure`` naming the first message the broker did not take, or
    ///   the broker client's error when the connection failed.
    func send(_ messages: [OutgoingMessage]) async throws

    /// Closes the connection (after what was sent is delivered, when it can be).
    func close() async
}

/// One message to send, with where in the input it came from.
public struct OutgoingMessage: Sendable {
    /// The message: body, headers, properties, key.
    public var message: Message
    /// The lane (a Kafka partition) to send it to; `nil` lets the broker choose.
    public var lane: Int32?
    /// Where it came from, for errors (`line 12`).
    public var label: String

    /// A message to send, from `label`.
    public init(message: Message, lane: Int32? = nil, label: String) {
        self.message = message
        self.lane = lane
        self.label = label
    }
}

/// A message the broker did not take.
public struct PublishFailure: Error, Sendable, CustomStringConvertible {
    /// The message's ``OutgoingMessage/label``.
    public var label: String
    /// Why, as the broker client said it.
    public var reason: String

    /// A failure of the message from `label`.
    public init(label: String, reason: String) {
        self.label = label
        self.reason = reason
    }

    public var description: String { "\(label): \(reason)" }
}

/// A `--to` URL or target a broker adapter cannot use, with what it expected.
public struct PublishTargetError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, the password redacted.
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}
