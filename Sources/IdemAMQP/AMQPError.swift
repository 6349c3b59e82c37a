/// An error from RabbitMQ or from librabbitmq, with a readable message.
///
/// Messages never contain the connection password.
public struct AMQPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where a failure happened.
    ///
    /// A struct with static members rather than an enum, so that new kinds can be added
    /// without breaking callers that switch over it (give such a switch a `default`).
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Backing: String, Sendable, Hashable {
            case invalidURL, connectionFailed, channelClosed, connectionClosed, connectionLost, invalidArgument, closed,
                unroutable, publishNacked, timeout, consumerCancelled
        }

        private let backing: Backing

        private init(_ backing: Backing) {
            self.backing = backing
        }

        /// The `amqp://` or `amqps://` URL could not be parsed.
        public static let invalidURL = Kind(.invalidURL)
        /// The TCP connection, the TLS handshake (or reading its CA, certificate or key
        /// file), the login or opening the channel failed.
        public static let connectionFailed = Kind(.connectionFailed)
        /// The server closed the channel (for example `404 NOT_FOUND`,
        /// `406 PRECONDITION_FAILED`); the connection stays usable and the channel is
        /// reopened on the next call.
        public static let channelClosed = Kind(.channelClosed)
        /// The server closed the connection (for example `320 CONNECTION_FORCED`).
        public static let connectionClosed = Kind(.connectionClosed)
        /// librabbitmq failed (socket error, timeout, heartbeat missed, bad frame); the
        /// connection is unusable.
        public static let connectionLost = Kind(.connectionLost)
        /// An argument cannot be sent (for example a header key longer than 128 bytes).
        public static let invalidArgument = Kind(.invalidArgument)
        /// The connection was already closed with ``AMQPConnection/close()``.
        public static let closed = Kind(.closed)
        /// A `mandatory` message was returned by the broker (`basic.return`, typically
        /// `312 NO_ROUTE`): no queue is bound for its exchange and routing key. The reply
        /// code and text say why. The connection stays usable.
        public static let unroutable = Kind(.unroutable)
        /// The broker refused a published message with `basic.nack` (publisher confirms);
        /// it may not have been stored. The connection stays usable.
        public static let publishNacked = Kind(.publishNacked)
        /// A publisher confirm did not arrive within the RPC timeout. Whether the broker
        /// took the message is unknown; treat it as not published. The connection stays
        /// usable.
        public static let timeout = Kind(.timeout)
        /// The broker cancelled a consumer (`basic.cancel`), for example because its queue
        /// was deleted; the message names the consumer tag. Deliveries already received
        /// stay valid; consume again (after declaring the queue) to resume.
        public static let consumerCancelled = Kind(.consumerCancelled)

        /// The kind's name, e.g. `invalidURL`.
        public var description: String { backing.rawValue }
    }

    /// Where the failure happened.
    public var kind: Kind
    /// The readable message, including the operation that failed.
    public var message: String
    /// The server's reply code for a channel or connection close (e.g. 404).
    public var replyCode: UInt16?
    /// The server's reply text for a channel or connection close.
    public var replyText: String?
    /// The class ID of the method that caused a server close, if the server named one.
    public var classId: UInt16?
    /// The method ID of the method that caused a server close, if the server named one.
    public var methodId: UInt16?
    /// The librabbitmq status code (`amqp_status_enum`, negative) for library failures.
    public var libraryStatus: Int32?

    /// Creates an error; the client normally builds these from librabbitmq replies.
    public init(
        kind: Kind,
        message: String,
        replyCode: UInt16? = nil,
        replyText: String? = nil,
        classId: UInt16? = nil,
        methodId: UInt16? = nil,
        libraryStatus: Int32? = nil
    ) {
        self.kind = kind
        self.message = message
        self.replyCode = replyCode
        self.replyText = replyText
        self.classId = classId
        self.methodId = methodId
        self.libraryStatus = libraryStatus
    }

    /// Whether the connection is unusable and must be replaced.
    public var isConnectionFailure: Bool {
        switch kind {
        case .connectionFailed, .connectionClosed, .connectionLost, .closed: return true
        default: return false
        }
    }

    /// The message.
    public var description: String { message }
}
