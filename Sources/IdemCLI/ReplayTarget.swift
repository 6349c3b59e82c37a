import IdemConfig
import IdemConsumerKit
import IdemCore

/// Where `idem replay` (and `idem publish`) sends messages: the ``PublishTarget`` of a
/// registered broker adapter, read from a consumer of the configuration or from a URL.
enum ReplayTarget {
    /// The target of `consumer`: its queue or its first topic, with its connection settings.
    ///
    /// - Throws: ``CLIFailure`` (exit 2) when no adapter of its kind is registered.
    static func of(_ consumer: ConsumerConfig, brokers: BrokerRegistry = Registrations.brokers) throws
        -> PublishTarget
    {
        do {
            return try brokers.adapter(for: consumer).publishTarget(for: consumer)
        } catch {
            throw CLIFailure.config("\(error)")
        }
    }

    /// Parses `--to`: a URL one of the registered adapters reads (`amqp[s]://…` with
    /// `queue`, `kafka://host:port[,host:port…]/TOPIC`), or `consumer:NAME` (resolved with
    /// `config`).
    ///
    /// - Throws: ``CLIFailure`` (exit 2) saying what is wrong, the password redacted.
    static func parse(
        _ text: String, queue: String?, brokers: BrokerRegistry = Registrations.brokers,
        config: () throws -> WorkerConfig
    ) throws -> PublishTarget {
        if text.hasPrefix("consumer:") {
            let name = String(text.dropFirst("consumer:".count))
            let loaded = try config()
            let consumer = try ConfigOptions.consumer(name, in: loaded, context: "--to \(text)")
            if queue != nil { throw CLIFailure.config("--queue goes with an amqp:// target, not with \(text)") }
            return try of(consumer, brokers: brokers)
        }
        let adapters = brokers.kinds.compactMap { brokers[$0] }
        for adapter in adapters {
            do {
                if let target = try adapter.publishTarget(url: text, queue: queue) { return target }
            } catch {
                throw CLIFailure.config("\(error)")
            }
        }
        let forms = adapters.map(\.publishURLSyntax).joined(separator: ", ")
        throw CLIFailure.config("--to \(Redaction.url(text)): expected \(forms) or consumer:NAME")
    }
}
