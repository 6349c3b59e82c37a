import IdemConcurrency
import IdemConfig
import IdemConsumerKit
import IdemCore
import Logging
import Synchronization

/// A message broker held in memory, as a ``BrokerAdapter``: a queue of messages that a
/// session takes in batches, acknowledges, puts back for a retry (redelivered) or moves to
/// its dead letters, with faults to inject (refused connections, a connection lost before
/// the acknowledgements of a batch reach it, a session whose settings cannot work).
///
/// It stands in for any broker in tests of the consumer kit: registered under the source
/// kind of the test's consumer, it runs under a ``ConsumerSupervisor`` exactly as the
/// RabbitMQ and Kafka adapters do. With `ordered`, it is one lane of a log: messages carry a
/// ``LogPosition``, batches keep order, and a retry holds the messages behind it back.
public final class InMemoryBroker: BrokerAdapter {
    public let kind: SourceKind
    public let brokerName = "in-memory broker"
    public let reconnectBackoff: Backoff
    /// Whether it is one ordered lane of a log rather than a queue.
    public let ordered: Bool

    /// A message moved to the dead letters, with its `x-idem-*` headers.
    public struct DeadLettered: Sendable {
        public var message: Message
        public var headers: [(String, HeaderValue)]
        public var reason: DeadLetterReason
        /// Removed by `idem dlq` (replayed or discarded).
        public var removed = false

        /// The value of the header `name`, if it is there.
        public func header(_ name: String) -> HeaderValue? {
            headers.first { $0.0 == name }?.1
        }
    }

    /// A connection that failed (refused, or lost).
    public struct ConnectionError: Error, CustomStringConvertible {
        public var description: String
    }

    /// A session's settings that cannot work.
    public struct SettingsError: Error, CustomStringConvertible {
        public var description: String
    }

    private struct Pending {
        var message: Message
        var due: ContinuousClock.Instant
    }

    private struct State {
        var pending: [Pending] = []
        var published = 0
        var acknowledged: [Message] = []
        var deadLetters: [DeadLettered] = []
        var redeliveries = 0
        var sessions = 0
        var refuse = 0
        var loseAcks = 0
        var settingsError: String?
        var held: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// A broker whose consumers' sources are of `kind`; sessions that fail are retried
    /// after `reconnectBackoff` (short by default, for tests).
    public init(
        kind: SourceKind, ordered: Bool = false,
        reconnectBackoff: Backoff = Backoff(initial: .milliseconds(5), maximum: .milliseconds(50))
    ) {
        self.kind = kind
        self.ordered = ordered
        self.reconnectBackoff = reconnectBackoff
    }

    // MARK: What tests do

    /// Publishes a message with `body`, the AMQP-style message ID `messageID` and
    /// `headers`; on an ordered broker it gets the lane's next offset. Returns the message.
    @discardableResult
    public func publish(_ body: String, messageID: String? = nil, headers: [String: HeaderValue] = [:]) -> Message {
        publish(body: Array(body.utf8), properties: MessageProperties(messageId: messageID), headers: headers)
    }

    @discardableResult
    private func publish(body: [UInt8], properties: MessageProperties, headers: [String: HeaderValue]) -> Message {
        state.withLock { state in
            let offset = Int64(state.published)
            state.published += 1
            let source =
                ordered
                ? MessageSource(
                    kind: kind, position: LogPosition(stream: "memory", lane: 0, offset: offset),
                    features: [.messageIDProperty])
                : MessageSource(kind: kind, description: "memory:\(offset)", features: [.messageIDProperty])
            let message = Message(body: body, headers: headers, properties: properties, source: source)
            state.pending.append(Pending(message: message, due: .now))
            return message
        }
    }

    /// The next `count` sessions fail to connect.
    public func refuseConnections(_ count: Int) {
        state.withLock { $0.refuse += count }
    }

    /// The connection is lost right after the next batch is processed, before its
    /// acknowledgements reach the broker: its messages come back, redelivered, to a new
    /// session (the crash window between commit and ack).
    public func loseNextAcknowledgements() {
        state.withLock { $0.loseAcks += 1 }
    }

    /// Sessions fail with a ``SettingsError`` of `reason` (`nil`: they work again).
    public func breakSettings(_ reason: String?) {
        state.withLock { $0.settingsError = reason }
    }

    /// The messages acknowledged, in order.
    public var acknowledged: [Message] { state.withLock { $0.acknowledged } }
    /// The dead letters, in order.
    public var deadLetters: [DeadLettered] { state.withLock { $0.deadLetters } }
    /// Messages published and not yet settled (waiting, in flight or due for a retry).
    public var unsettled: Int { state.withLock { $0.published - $0.acknowledged.count - $0.deadLetters.count } }
    /// How many times a message was delivered again.
    public var redeliveries: Int { state.withLock { $0.redeliveries } }
    /// How many sessions were started.
    public var sessions: Int { state.withLock { $0.sessions } }

    // MARK: BrokerAdapter

    public func makeSession(_ context: ConsumerContext) throws -> any ConsumerSession {
        if let reason = state.withLock({ $0.settingsError }) { throw SettingsError(description: reason) }
        return InMemoryConsumerSession(broker: self, context: context)
    }

    public func openDeadLetterChannel(for consumer: ConsumerConfig, logger: Logger) async throws
        -> any DeadLetterChannel
    {
        InMemoryDeadLetterChannel(broker: self)
    }

    public var publishURLSyntax: String { "memory://QUEUE" }

    public func publishTarget(for consumer: ConsumerConfig) throws -> PublishTarget {
        PublishTarget(kind: kind, destination: consumer.name, shown: "in-memory queue \(consumer.name)", settings: ())
    }

    public func publishTarget(url: String, queue: String?) throws -> PublishTarget? {
        guard url.hasPrefix("memory://") else { return nil }
        let name = String(url.dropFirst("memory://".count))
        guard !name.isEmpty else { throw PublishTargetError("--to \(url): expected memory://QUEUE") }
        return PublishTarget(kind: kind, destination: name, shown: "in-memory queue \(name)", settings: ())
    }

    public func openPublisher(
        _ target: PublishTarget, client: String, deliveryTimeout: Duration, logger: Logger
    ) async throws -> any MessagePublisher {
        InMemoryPublisher(broker: self)
    }

    /// Publishes `message` as it is, but for its source, which the broker gives it.
    func publish(_ message: Message) {
        publish(body: message.body, properties: message.properties, headers: message.headers)
    }

    // MARK: What sessions do

    /// A session connects; throws when refused.
    func connect() throws {
        let refused = state.withLock { state in
            state.sessions += 1
            guard state.refuse > 0 else { return false }
            state.refuse -= 1
            return true
        }
        if refused { throw ConnectionError(description: "connection refused (in-memory broker)") }
    }

    /// Up to `count` messages that are due, in order; an ordered broker gives none while a
    /// retry holds its lane.
    func take(_ count: Int) -> [Message] {
        state.withLock { state in
            let now = ContinuousClock.now
            if let held = state.held {
                guard held <= now else { return [] }
                state.held = nil
            }
            var taken: [Message] = []
            var index = 0
            while index < state.pending.count && taken.count < count {
                if state.pending[index].due <= now {
                    taken.append(state.pending.remove(at: index).message)
                } else if ordered {
                    break
                } else {
                    index += 1
                }
            }
            return taken
        }
    }

    /// Settles one processed batch: `settle` decides each message's fate. When the
    /// connection was to be lost, nothing is settled and every message comes back.
    func settle(_ batch: [Message], _ outcomes: [Settlement]) throws {
        let lost = state.withLock { state in
            guard state.loseAcks > 0 else { return false }
            state.loseAcks -= 1
            state.redeliveries += batch.count
            state.pending.insert(contentsOf: batch.map { Pending(message: Self.redelivered($0), due: .now) }, at: 0)
            return true
        }
        if lost { throw ConnectionError(description: "connection lost before the acknowledgements were sent") }
        state.withLock { state in
            var requeued: [Pending] = []
            for (message, outcome) in zip(batch, outcomes) {
                switch outcome {
                case .acknowledge:
                    state.acknowledged.append(message)
                case .retry(let delay):
                    state.redeliveries += 1
                    requeued.append(Pending(message: Self.redelivered(message), due: .now + delay))
                    if ordered { state.held = min(state.held ?? .now + delay, .now + delay) }
                case .deadLetter(let headers, let reason):
                    state.deadLetters.append(DeadLettered(message: message, headers: headers, reason: reason))
                case .giveBack:
                    state.redeliveries += 1
                    requeued.append(Pending(message: Self.redelivered(message), due: .now))
                }
            }
            state.pending.insert(contentsOf: requeued, at: 0)
        }
    }

    /// What becomes of one message of a batch.
    enum Settlement {
        case acknowledge
        case retry(after: Duration)
        case deadLetter([(String, HeaderValue)], DeadLetterReason)
        /// Back to the queue unsettled, at once (the store is away).
        case giveBack
    }

    /// Replays dead letter `index`: republished to the queue with `headers` added.
    func replay(_ index: Int, headers: [String: HeaderValue]) {
        state.withLock { state in
            let letter = state.deadLetters[index]
            var message = letter.message
            message.headers.merge(headers) { $1 }
            state.published += 1
            state.pending.append(Pending(message: message, due: .now))
        }
    }

    /// Removes dead letter `index` (it stays counted as settled).
    func removeDeadLetter(_ index: Int) {
        state.withLock { $0.deadLetters[index].removed = true }
    }

    private static func redelivered(_ message: Message) -> Message {
        var message = message
        message.source.redelivered = true
        return message
    }
}
