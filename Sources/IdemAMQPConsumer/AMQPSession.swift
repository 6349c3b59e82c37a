import IdemAMQP
import IdemCore
import Logging
import Synchronization

/// The state one connection of an ``AMQPConsumerService`` shares between its concurrent
/// batches: the delivery stream, the first failure, the delay queues declared so far, and
/// the acker.
///
/// Batches finish in any order; the acker alone sends acks, in order, one `multiple` ack per
/// contiguous run of settled deliveries (see ``AckTracker``), so that an ack never names a
/// delivery an earlier ack already covered.
final class AMQPSession: Sendable {
    let connection: AMQPConnection
    let stream: AMQPDeliveryStream
    let queue: String
    /// Whether transient failures go through delay queues (else nack-requeue).
    let delayQueues: Bool
    private let logger: Logger
    private let shared = Shared()
    private let events: AsyncStream<AckEvent>.Continuation
    private let acker: Task<Void, Never>

    private struct State {
        var failure: (any Error)?
        var declaredDelayQueues: Set<String> = []
        var consumerTag: String?
    }

    /// The mutable state, in a box the acker task can share.
    private final class Shared: Sendable {
        let state = Mutex(State())

        func record(_ error: any Error, stream: AMQPDeliveryStream) {
            state.withLock { state in
                if state.failure == nil { state.failure = error }
            }
            stream.stop()
        }
    }

    private enum AckEvent: Sendable {
        case received([UInt64])
        case settled([(tag: UInt64, needsAck: Bool)])
    }

    init(connection: AMQPConnection, stream: AMQPDeliveryStream, queue: String, delayQueues: Bool, logger: Logger) {
        self.connection = connection
        self.stream = stream
        self.queue = queue
        self.delayQueues = delayQueues
        self.logger = logger
        let (events, continuation) = AsyncStream<AckEvent>.makeStream()
        self.events = continuation
        let shared = self.shared
        self.acker = Task {
            var tracker = AckTracker()
            var failed = false
            for await event in events {
                switch event {
                case .received(let tags):
                    tracker.receive(tags)
                case .settled(let settled):
                    for (tag, needsAck) in settled { tracker.settle(tag, needsAck: needsAck) }
                    guard !failed, let tag = tracker.takeMultipleAck() else { continue }
                    do {
                        try await connection.ack(deliveryTag: tag, multiple: true)
                    } catch {
                        failed = true
                        shared.record(error, stream: stream)
                    }
                }
            }
            // The session is ending: what is settled behind a delivery still unsettled (a
            // batch that could not finish) is acked singly, so that no committed effect
            // stays unacked when the channel closes.
            guard !failed else { return }
            do {
                if let tag = tracker.takeMultipleAck() {
                    try await connection.ack(deliveryTag: tag, multiple: true)
                }
                for tag in tracker.takeSettledOutOfOrder() {
                    try await connection.ack(deliveryTag: tag)
                }
            } catch {
                logger.debug("final acks failed: \(error)")
            }
        }
    }

    /// The first failure of the session, if any.
    var failure: (any Error)? { shared.state.withLock { $0.failure } }

    /// Records the first failure and stops taking deliveries.
    func fail(_ error: any Error) {
        shared.record(error, stream: stream)
    }

    /// The tag of the session's consumer on the queue; `nil` while an operator pause has
    /// it cancelled.
    var consumerTag: String? {
        get { shared.state.withLock { $0.consumerTag } }
        set { shared.state.withLock { $0.consumerTag = newValue } }
    }

    /// Registers a batch taken from the stream, before any of it is settled.
    func received(_ deliveries: [AMQPDelivery]) {
        events.yield(.received(deliveries.map(\.deliveryTag)))
    }

    /// Seals the fate of a batch's deliveries: `needsAck` is false for those nacked.
    func settle(_ settled: [(tag: UInt64, needsAck: Bool)]) {
        events.yield(.settled(settled))
    }

    /// Sends the last acks; call once no batch is in flight.
    func finishAcks() async {
        events.finish()
        await acker.value
    }

    /// The delay queue for `delay`: one per power-of-two bucket of milliseconds, so that a
    /// long delay at the head of a queue never holds up a much shorter one behind it. Each
    /// dead-letters back to the work queue when a message's TTL runs out; declared once per
    /// session.
    func delayQueue(for delay: Duration) async throws -> String {
        let milliseconds = max(1, Int64((delay.seconds * 1000).rounded()))
        var bucket: Int64 = 1
        while bucket < milliseconds { bucket *= 2 }
        let name = "\(queue).delay.\(bucket)ms"
        if shared.state.withLock({ $0.declaredDelayQueues.contains(name) }) { return name }
        var arguments = AMQPTable()
        arguments["x-dead-letter-exchange"] = .utf8("")
        arguments["x-dead-letter-routing-key"] = .utf8(queue)
        _ = try await connection.declareQueue(
            name: name, durable: true, exclusive: false, autoDelete: false, arguments: arguments)
        shared.state.withLock { _ = $0.declaredDelayQueues.insert(name) }
        return name
    }
}
