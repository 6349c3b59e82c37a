import CRdKafka

/// An error from librdkafka or from a Kafka broker.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was being done when the failure happened.
    ///
    /// A struct with static members rather than an enum, so that new kinds can be added
    /// without breaking callers that switch over it (give such a switch a `default`).
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Backing: String, Sendable, Hashable {
            case configuration, clientCreation, produce, delivery, consume, subscribe, commit, rebalance, pause, seek,
                offsetQuery, flush, mockCluster, admin, invalidArgument, closed
        }

        private let backing: Backing

        private init(_ backing: Backing) {
            self.backing = backing
        }

        /// A configuration property was unknown or had an invalid value;
        /// ``KafkaError/property`` names it.
        public static let configuration = Kind(.configuration)
        /// The client handle could not be created.
        public static let clientCreation = Kind(.clientCreation)
        /// A message could not be enqueued for producing.
        public static let produce = Kind(.produce)
        /// A produced message was not delivered (the delivery report failed).
        public static let delivery = Kind(.delivery)
        /// Consuming failed (an error event from the consumer poll).
        public static let consume = Kind(.consume)
        /// Subscribing failed.
        public static let subscribe = Kind(.subscribe)
        /// Committing offsets failed.
        public static let commit = Kind(.commit)
        /// Completing a rebalance (assigning or unassigning partitions) failed.
        public static let rebalance = Kind(.rebalance)
        /// Pausing or resuming partitions failed.
        public static let pause = Kind(.pause)
        /// Seeking a partition failed.
        public static let seek = Kind(.seek)
        /// Reading committed offsets or the assignment failed.
        public static let offsetQuery = Kind(.offsetQuery)
        /// Flushing the producer did not finish in time.
        public static let flush = Kind(.flush)
        /// A mock cluster operation failed.
        public static let mockCluster = Kind(.mockCluster)
        /// An Admin API request (reading topic configurations) failed or went unanswered.
        public static let admin = Kind(.admin)
        /// An argument was out of range.
        public static let invalidArgument = Kind(.invalidArgument)
        /// The client was already closed.
        public static let closed = Kind(.closed)

        /// The kind's name, e.g. `configuration`.
        public var description: String { backing.rawValue }
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
