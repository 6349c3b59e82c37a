import CRdKafka

/// The plumbing every admin request shares (``KafkaTopicAdmin``, ``KafkaTopicConfigReader``):
/// a short-lived client handle, and the error of a result event. Blocking: call it on a
/// thread of its own, never on the cooperative pool.
enum KafkaAdminClient {
    /// Runs `body` with a new client handle for `bootstrapServers` (`configuration` over
    /// the defaults), destroyed when it returns; `context` must outlive the call.
    static func withHandle<T>(
        bootstrapServers: String, configuration: [String: String], context: KafkaClientContext,
        _ body: (OpaquePointer) throws(KafkaError) -> T
    ) throws(KafkaError) -> T {
        let properties = KafkaClientContext.properties(
            defaults: ["client.id": "idem-admin"], caller: configuration,
            forced: ["bootstrap.servers": bootstrapServers])
        let conf = try context.makeConfiguration(properties)
        let handle = try KafkaClientContext.makeHandle(type: RD_KAFKA_PRODUCER, conf: conf)
        defer { rd_kafka_destroy(handle) }
        return try body(handle)
    }

    /// The error a result event carries, as a ``KafkaError`` whose message is
    /// `message(text)`; `nil` when the request succeeded.
    static func error(of event: OpaquePointer, message: (String) -> String) -> KafkaError? {
        let code = rd_kafka_event_error(event)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
        return KafkaError(
            kind: .admin, message: message(text), code: code.rawValue,
            codeName: String(cString: rd_kafka_err2name(code)))
    }
}
