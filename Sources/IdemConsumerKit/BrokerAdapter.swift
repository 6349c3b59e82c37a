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
    /// The client library it runs on, for `idem check-config` and the startup log (`nil`:
    /// none worth naming).
    var clientLibrary: ClientLibrary? { get }

    /// A new session of `context.consumer`, whose source is of ``kind``; a thrown error
    /// means its settings cannot work (the supervisor stops the worker).
    func makeSession(_ context: ConsumerContext) throws -> any ConsumerSession

    /// Asks the broker whether `consumer`'s settings fit what it has (the checks each session
    /// runs before it takes a message), changing nothing, within `timeout`; for
    /// `idem check-config`.
    func checkBroker(for consumer: ConsumerConfig, timeout: Duration, logger: Logger) async -> BrokerCheck

    /// The dead letters of `consumer`, for `idem dlq`.
    ///
    /// - Throws: the broker client's error (naming the endpoint, never a password), or
    ///   ``DeadLetterChannelError``.
    func openDeadLetterChannel(for consumer: ConsumerConfig, logger: Logger) async throws -> any DeadLetterChannel

    /// The URL forms of ``publishTarget(url:queue:)``, for the help and errors of
    /// `idem publish` and `idem replay` (`kafka://host:port[,host:port…]/TOPIC`).
    var publishURLSyntax: String { get }

    /// Where messages published to `consumer` go: its queue or its first topic, with its
    /// connection settings.
    func publishTarget(for consumer: ConsumerConfig) throws -> PublishTarget

    /// The target `url` names, when it is one of this broker's URLs (`nil` otherwise);
    /// `queue` is the `--queue` option, for brokers whose URLs do not name one.
    ///
    /// - Throws: ``PublishTargetError`` saying what is wrong with a URL of this broker.
    func publishTarget(url: String, queue: String?) throws -> PublishTarget?

    /// A publisher to `target` (made by this adapter), connected; `client` names the
    /// connection, `deliveryTimeout` bounds how long a message may wait to be taken.
    func openPublisher(
        _ target: PublishTarget, client: String, deliveryTimeout: Duration, logger: Logger
    ) async throws -> any MessagePublisher
}

extension BrokerAdapter {
    /// From 200 ms, doubling up to 30 s.
    public var reconnectBackoff: Backoff { Backoff(initial: .milliseconds(200), maximum: .seconds(30)) }

    /// None.
    public var clientLibrary: ClientLibrary? { nil }

    /// Nothing to check.
    public func checkBroker(for consumer: ConsumerConfig, timeout: Duration, logger: Logger) async -> BrokerCheck {
        BrokerCheck()
    }
}
