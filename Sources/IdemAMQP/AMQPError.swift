/// An error from RabbitMQ or from librabbitmq, with a readable message.
///
/// Messages never contain the connection password.
public struct AMQPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where a failure happened.
    public enum Kind: Sendable, Hashable {
        /// The `amqp://` or `amqps://` URL could not be parsed.
        case invalidURL
        /// The TCP connection, the TLS handshake (or reading its CA, certificate or key
        /// file), the login or opening the channel failed.
        case connectionFailed
        /// The server closed the channel (for example `404 NOT_FOUND`,
        /// `406 PRECONDITION_FAILED`); the connection stays usable and the channel is
        /// reopened on the next call.
        case channelClosed
        /// The server closed the connection (for example `320 CONNECTION_FORCED`).
        case connectionClosed
        /// librabbitmq failed (socket error, timeout, heartbeat missed, bad frame); the
        /// connection is unusable.
        case connectionLost
        /// An argument cannot be sent (for example a header key longer than 128 bytes).
        case invalidArgument
        /// The connection was already closed with ``AMQPConnection/close()``.
        case closed
        /// A `mandatory` message was returned by the broker (`basic.return`, typically
        /// `312 NO_ROUTE`): no queue is bound for its exchange and routing key. The reply
        /// code and text say why. The connection stays usable.
        case unroutable
        /// The broker refused a published message with `basic.nack` (publisher confirms);
        /// it may not have been stored. The connection stays usable.
        case publishNacked
        /// A publisher confirm did not arrive within the RPC timeout. Whether the broker
        /// took the message is unknown; treat it as not published. The connection stays
        /// usable.
        case timeout
        /// The broker cancelled a consumer (`basic.cancel`), for example because its queue
        /// was deleted; the message names the consumer tag. Deliveries already received
        /// stay valid; consume again (after declaring the queue) to resume.
        case consumerCancelled
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
        case .invalidURL, .channelClosed, .invalidArgument, .unroutable, .publishNacked, .timeout,
            .consumerCancelled:
            return false
        }
    }

    /// The message.
    public var description: String { message }
}
