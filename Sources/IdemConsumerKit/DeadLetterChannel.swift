/// A consumer's dead letters on its broker, for `idem dlq`: read them in order without
/// consuming them, put one back on the consumer's source, and take one off.
///
/// RabbitMQ: the dead-letter queue, browsed with `basic.get` and no ack; what is not taken
/// off goes back to the queue, in its place, when the channel closes. Kafka: every
/// partition of the dead-letter topics, from the earliest offset to the end they had when
/// the channel opened; records cannot be taken off (the replay audit is what keeps a record
/// from being replayed twice).
public protocol DeadLetterChannel: Sendable {
    /// What is read, for messages: `queue orders.dlq`, `topic orders.dlq`.
    var name: String { get }
    /// How many dead letters ``next()`` goes through, when known (counted when the
    /// channel opened).
    var count: Int? { get }
    /// The next dead letter, or `nil` after the last one there was when the channel
    /// opened.
    func next() async throws -> DeadLetter?
    /// Where ``republish(_:replayID:)`` would put `letter` (`amqp:<queue>` or `<topic>`),
    /// or a thrown error saying why it cannot.
    func target(for letter: DeadLetter) throws -> String
    /// Puts `letter` back on the consumer's source with its body, key, properties and
    /// headers, its `x-idem-*` headers replaced by `x-idem-replay-id: replayID`, and waits
    /// until the broker has it (publisher confirm, delivery report). Returns where it went
    /// (`amqp:<queue>` or `<topic>:<partition>:<offset>`).
    func republish(_ letter: DeadLetter, replayID: Int64) async throws -> String
    /// Takes `letter` off the dead letters (RabbitMQ: acks it); does nothing on Kafka.
    func remove(_ letter: DeadLetter) async throws
    /// Whether ``remove(_:)`` takes dead letters off (false for Kafka topics).
    var removesDeadLetters: Bool { get }
    /// Closes the broker connections; dead letters read and not removed stay where they were.
    func close() async
}
