import CRdKafka

/// An error from librdkafka or from a Kafka broker.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was being done when the failure happened.
    public enum Kind: Sendable, Hashable {
        /// A configuration property was unknown or had an invalid value;
        /// ``KafkaError/property`` names it.
        case configuration
        /// The client handle could not be created.
        case clientCreation
        /// A message could not be enqueued for producing.
        case produce
        /// A produced message was not delivered (the delivery report failed).
        case delivery
        /// Consuming failed (an error event from the consumer poll).
        case consume
        /// Subscribing failed.
        case subscribe
        /// Committing offsets failed.
        case commit
        /// Completing a rebalance (assigning or unassigning partitions) failed.
        case rebalance
        /// Pausing or resuming partitions failed.
        case pause
        /// Seeking a partition failed.
        case seek
        /// Reading committed offsets or the assignment failed.
        case offsetQuery
        /// Flushing the producer did not finish in time.
        case flush
        /// A mock cluster operation failed.
        case mockCluster
        /// An Admin API request (reading topic configurations) failed or went unanswered.
        case admin
        /// An argument was out of range.
        case invalidArgument
        /// The client was already closed.
        case closed
    }

    /// What was being done.
    public var kind: Kind
    /// The readable message.
    public var message: String
    /// The librdkafka error code (`rd_kafka_resp_err_t`), when there is one.
    public var code: Int32?
    /// The librdkafka name of ``code``, e.g. `UNKNOWN_TOPIC_OR_PART` or `_MSG_TIMED_OUT`.
    public var codeName: String?
    /// The configuration property at fault, for ``Kind/configuration``.
    public var property: String?
    /// Whether librdkafka considers the client unusable (a fatal error).
    public var isFatal: Bool

    /// Creates an error.
    public init(
        kind: Kind, message: String, code: Int32? = nil, codeName: String? = nil,
        property: String? = nil, isFatal: Bool = false
    ) {
        self.kind = kind
        self.message = message
        self.code = code
        self.codeName = codeName
        self.property = property
        self.isFatal = isFatal
    }

    /// An error for librdkafka code `code`, with its description appended to `context`.
    package init(kind: Kind, context: String, code: rd_kafka_resp_err_t, isFatal: Bool = false) {
        let description = String(cString: rd_kafka_err2str(code))
        self.init(
            kind: kind, message: "\(context): \(description)", code: code.rawValue,
            codeName: String(cString: rd_kafka_err2name(code)), isFatal: isFatal)
    }

    /// An error for a librdkafka error object (`rd_kafka_error_t`), which it destroys, with
    /// its description appended to `context`.
    init(kind: Kind, context: String, error: OpaquePointer) {
        let code = rd_kafka_error_code(error)
        let text = String(cString: rd_kafka_error_string(error))
        let fatal = rd_kafka_error_is_fatal(error) != 0
        rd_kafka_error_destroy(error)
        self.init(
            kind: kind, message: "\(context): \(text)", code: code.rawValue,
            codeName: String(cString: rd_kafka_err2name(code)), isFatal: fatal)
    }

    /// The message.
    public var description: String { message }
}
