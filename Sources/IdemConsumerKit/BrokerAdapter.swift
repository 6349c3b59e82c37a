import IdemConcurrency
import IdemConfig
import IdemCore
import Logging

/// A broker idem consumes from, as a plug-in: what the worker and the operations commands
/// need of it, and nothing more. The executable registers one adapter per broker in a
/// ``BrokerRegistry``; the runtime finds a consumer's adapter there by its source kind,
/// and never imports a broker target.
///
/// The adapter turns its broker's deliveries into ``Message``s, runs them through a
/// ``BatchProcessor`` (``ConsumerContext/makeBatchProcessor()``), and carries out each
/// ``Disposition`` with its broker's operations (its column of the outcome table in
/// docs/design.md). See docs/adapters.md for adding one.
public protocol BrokerAdapter: Sendable {
    /// The configuration key of its settings (`source: {KIND: ...}`), and the kind of the
    /// ``MessageSource``s it makes.
    var kind: SourceKind { get }
    /// The broker's name for people, in logs: `RabbitMQ`, `Kafka`.
    var brokerName: String { get }
    /// The delays between a failed session and the next one.
    var reconnectBackoff: Backoff { get }

    /// A new session of `context.consumer`, whose source is of ``kind``; a thrown error
    /// means its settings cannot work (the supervisor stops the worker).
    func makeSession(_ context: ConsumerContext) throws -> any ConsumerSession

    /// The dead letters of `consumer`, for `idem dlq`.
    ///
    /// - Throws: the broker client's error (naming the endpoint, never a password), or
    ///   ``DeadLetterChannelError``.
    func openDeadLetterChannel(for consumer: ConsumerConfig, logger: Logger) async throws -> any DeadLetterChannel
}

extension BrokerAdapter {
    /// From 200 ms, doubling up to 30 s.
    public var reconnectBackoff: Backoff { Backoff(initial: .milliseconds(200), maximum: .seconds(30)) }
}
