import IdemConfig
import IdemCore

/// Which source kinds and handler kinds this build of idem can run.
public enum FeatureAvailability {
    /// The source kinds whose adapters are part of this build.
    public static let sourceKinds: Set<SourceKind> = [.amqp, .kafka]
    /// The handler kinds this build can run.
    public static let handlerKinds: Set<String> = ["sql"]

    /// Why a consumer cannot run in this build, or `nil` if it can.
    public static func unavailableReason(_ consumer: ConsumerConfig) -> String? {
        var reasons: [String] = []
        if !sourceKinds.contains(consumer.source.kind) {
            switch consumer.source.kind {
            case .amqp: reasons.append("the RabbitMQ (amqp) consumer is not available in this version of idem")
            case .kafka: reasons.append("the Kafka consumer is not available in this version of idem")
            }
        }
        let handler = consumer.handler.kind.name
        if !handlerKinds.contains(handler) {
            reasons.append("the \(handler) handler is not available in this version of idem")
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }
}
