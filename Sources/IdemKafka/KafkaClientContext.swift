import CRdKafka
import Logging
import Synchronization

/// The Swift side of a librdkafka handle: its logger, reachable from the C callbacks
/// through the configuration opaque pointer.
///
/// The owner keeps the context alive for as long as the handle exists; callbacks run on
/// librdkafka's internal threads, so the context is immutable.
package final class KafkaClientContext: Sendable {
    package let logger: Logger
    /// A consumer's pending rebalances; with it, ``makeConfiguration(_:)`` installs the
    /// rebalance callback.
    let rebalances: KafkaRebalanceRecorder?
    /// Set when librdkafka reports that every broker is down, cleared when its statistics
    /// (`statistics.interval.ms`) show a broker connection up again.
    let allBrokersDown = Atomic<Bool>(false)

    package init(logger: Logger, rebalances: KafkaRebalanceRecorder? = nil) {
        self.logger = logger
        self.rebalances = rebalances
    }

    /// Creates an `rd_kafka_conf_t` from `properties` (applied in order, so later ones win)
    /// with this context's callbacks for logs and errors (and rebalances, for a consumer)
    /// installed.
    ///
    /// - Throws: ``KafkaError`` of kind ``KafkaError/Kind/configuration`` naming the
    ///   property; its value is not shown because it may be a secret.
    package func makeConfiguration(_ properties: [(String, String)]) throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(kind: .configuration, message: "rd_kafka_conf_new failed")
        }
        var errorText = [CChar](repeating: 0, count: 512)
        for (name, value) in properties {
            let result = rd_kafka_conf_set(conf, name, value, &errorText, errorText.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                let reason = string(fromBuffer: errorText)
                throw KafkaError(
                    kind: .configuration,
                    message: "invalid Kafka configuration property '\(name)': \(reason)",
                    property: name)
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_log_cb(conf, kafkaLogCallback)
        rd_kafka_conf_set_error_cb(conf, kafkaErrorCallback)
        rd_kafka_conf_set_stats_cb(conf, kafkaStatisticsCallback)
        if rebalances != nil {
            rd_kafka_conf_set_rebalance_cb(conf, kafkaRebalanceCallback)
        }
        return conf
    }

    /// Creates a client handle, taking ownership of `conf` on success and destroying it on
    /// failure.
    package static func makeHandle(type: rd_kafka_type_t, conf: OpaquePointer) throws(KafkaError)
        -> OpaquePointer
    {
        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(
                kind: .clientCreation,
                message: "could not create the Kafka client: \(string(fromBuffer: errorText))")
        }
        return handle
    }

    /// Merges caller properties over defaults, then applies the forced ones.
    static func properties(
        defaults: [String: String], caller: [String: String], forced: [String: String] = [:]
    ) -> [(String, String)] {
        defaults.sorted { $0.key < $1.key } + caller.sorted { $0.key < $1.key }
            + forced.sorted { $0.key < $1.key }
    }
}

private func context(of handle: OpaquePointer?) -> KafkaClientContext? {
    guard let handle, let opaque = rd_kafka_opaque(handle) else { return nil }
    return Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
}

/// Routes librdkafka's log lines (syslog levels) to the logger instead of stderr.
private func kafkaLogCallback(
    _ handle: OpaquePointer?, _ level: Int32, _ facility: UnsafePointer<CChar>?,
    _ text: UnsafePointer<CChar>?
) {
    guard let context = context(of: handle) else { return }
    let message = text.map { String(cString: $0) } ?? ""
    let facilityName = facility.map { String(cString: $0) } ?? ""
    let metadata: Logger.Metadata = [
        "facility": "\(facilityName)",
        "client": "\(handle.map { String(cString: rd_kafka_name($0)) } ?? "")",
    ]
    let logLevel: Logger.Level
    switch level {
    // Connection failures ("FAIL") also reach the error callback; log them once.
    case _ where facilityName == "FAIL": logLevel = .debug
    case ...3: logLevel = .error
    case 4: logLevel = .warning
    case 5: logLevel = .notice
    case 6: logLevel = .info
    default: logLevel = .debug
    }
    context.logger.log(level: logLevel, "librdkafka: \(message)", metadata: metadata)
}

/// Logs client-level errors (brokers down, authentication failures, fatal errors).
private func kafkaErrorCallback(
    _ handle: OpaquePointer?, _ code: Int32, _ reason: UnsafePointer<CChar>?,
    _ opaque: UnsafeMutableRawPointer?
) {
    guard let opaque else { return }
    let context = Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
    let error = rd_kafka_resp_err_t(rawValue: code)
    let text = reason.map { String(cString: $0) } ?? ""
    let metadata: Logger.Metadata = ["code": "\(String(cString: rd_kafka_err2name(error)))"]
    if error == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN {
        context.allBrokersDown.store(true, ordering: .relaxed)
    }
    if error == RD_KAFKA_RESP_ERR__FATAL {
        context.logger.error("Kafka client fatal error: \(text)", metadata: metadata)
    } else {
        context.logger.warning("Kafka client error: \(text)", metadata: metadata)
    }
}

/// Reads the broker states from librdkafka's statistics, every `statistics.interval.ms`.
private func kafkaStatisticsCallback(
    _ handle: OpaquePointer?, _ json: UnsafeMutablePointer<CChar>?, _ length: Int, _ opaque: UnsafeMutableRawPointer?
) -> Int32 {
    guard let opaque, let json else { return 0 }
    let context = Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
    if let up = KafkaBrokerStatistics.anyBrokerUp(UnsafeRawBufferPointer(start: json, count: length)) {
        context.allBrokersDown.store(!up, ordering: .relaxed)
    }
    return 0
}

/// The NUL-terminated text in a C error buffer.
func string(fromBuffer buffer: [CChar]) -> String {
    let bytes = buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
