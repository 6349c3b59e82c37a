import IdemAMQP
import IdemCore
import Logging
import Synchronization

/// The state one connection of an ``AMQPConsumerService`` shares between its concurrent
/// batches: the delivery stream, the first failure, the delay queues declared so far, the
/// acker, and for a RabbitMQ stream the position in it.
///
/// Batches finish in any order; the acker alone sends acks, in order, one `multiple` ack per
/// contiguous run of settled deliveries (see ``AckTracker``), so that an ack never names a
/// delivery an earlier ack already covered.
final class AMQPSession: Sendable {
    let connection: AMQPConnection
    let stream: AMQPDeliveryStream
    let queue: String
    /// How transient failures are retried.
    let retryRoute: AMQPAction.RetryRoute
    private let logger: Logger
    private let shared = Shared()
    private let events: AsyncStream<AckEvent>.Continuation
    private let acker: Task<Void, Never>
    /// Wakes ``AMQPConsumerSession``'s attachment follower: a retry in place was asked for.
    let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    private struct State {
        var failure: (any Error)?
        var declaredDelayQueues: Set<String> = []
        var consumerTag: String?
        /// A stream's position; `nil` for a queue.
        var position: StreamPositionTracker?
        /// When a stream may be attached again after an in-place retry.
        var retryDue: ContinuousClock.Instant?
        /// Counts in-place retries, so that an attachment clears only those asked before it.
        var retryGeneration = 0
        /// Deliveries on their last delivery that no batch settles: dead-lettered before the
        /// channel closes.
        var lastDeliveries: [AMQPDelivery] = []
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

    /// A quorum queue's delivery limit, when idem knows it: a delivery whose
    /// `x-delivery-count` reached it is the last the broker makes.
    let deliveryLimit: Int?

    /// A session; `position` is a stream consumer's position (`nil` for a queue),
    /// `deliveryLimit` a quorum queue's known delivery limit.
    init(
        connection: AMQPConnection, stream: AMQPDeliveryStream, queue: String, retryRoute: AMQPAction.RetryRoute,
        position: StreamPositionTracker? = nil, deliveryLimit: Int? = nil, logger: Logger
    ) {
        self.deliveryLimit = deliveryLimit
        self.connection = connection
        self.stream = stream
        self.queue = queue
        self.retryRoute = retryRoute
        self.logger = logger
        let (events, continuation) = AsyncStream<AckEvent>.makeStream()
        self.events = continuation
        let shared = self.shared
        shared.state.withLock { $0.position = position }
        (self.wakeups, self.wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
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
        shared.state.withLock { state in
            guard state.position != nil else { return }
            for delivery in deliveries {
                guard let offset = Self.streamOffset(delivery) else { continue }
                state.position?.receive(offset: offset, consumerTag: delivery.consumerTag)
            }
        }
        events.yield(.received(deliveries.map(\.deliveryTag)))
    }

    /// The deliveries of `deliveries` still to process: on a stream, those of records done
    /// already (read again after an in-place retry) are settled at once, without processing,
    /// so that the handler and the dedup store see a record once per session.
    func skippingDone(_ deliveries: [AMQPDelivery]) -> [AMQPDelivery] {
        let done: Set<UInt64> = shared.state.withLock { state in
            guard let position = state.position else { return [] }
            return Set(
                deliveries.compactMap { delivery in
                    Self.streamOffset(delivery).flatMap { position.isDone($0) ? delivery.deliveryTag : nil }
                })
        }
        guard !done.isEmpty else { return deliveries }
        settle(done.sorted().map { ($0, true) })
        return deliveries.filter { !done.contains($0.deliveryTag) }
    }

    /// Whether `delivery` is the last its queue's delivery limit allows: handed back, the
    /// broker would drop it (or dead-letter it without idem's headers).
    func isLastDelivery(_ delivery: AMQPDelivery) -> Bool {
        guard let deliveryLimit, let count = AMQPMessageMapping.deliveryCount(delivery) else { return false }
        return count >= deliveryLimit
    }

    /// Deliveries no batch will settle (PostgreSQL went away, the session is ending): those
    /// on their last delivery are kept, to be dead-lettered before the channel closes.
    func abandon(_ deliveries: [AMQPDelivery]) {
        let last = deliveries.filter(isLastDelivery)
        guard !last.isEmpty else { return }
        shared.state.withLock { $0.lastDeliveries += last }
    }

    /// Takes the deliveries kept by ``abandon(_:)``.
    func takeLastDeliveries() -> [AMQPDelivery] {
        shared.state.withLock { state in
            defer { state.lastDeliveries = [] }
            return state.lastDeliveries
        }
    }

    /// The stream offset a delivery from a stream carries.
    static func streamOffset(_ delivery: AMQPDelivery) -> Int64? {
        delivery.properties.headers["x-stream-offset"]?.integerValue
    }

    /// A stream's position (`nil` for a queue).
    var position: StreamPositionTracker? { shared.state.withLock { $0.position } }

    /// The consumer attached again with `consumerTag`, a stream's at `offset` (`nil`: a
    /// keyword start), having read ``retryGeneration`` as `retryGeneration` before: the
    /// in-place retries asked since are still to come.
    func attached(consumerTag: String, at offset: Int64?, retryGeneration: Int) {
        shared.state.withLock { state in
            state.consumerTag = consumerTag
            let current = state.retryGeneration == retryGeneration
            state.position?.attached(consumerTag: consumerTag, at: offset, clearingRetry: current)
            if current { state.retryDue = nil }
        }
    }

    /// The count of in-place retries asked so far.
    var retryGeneration: Int { shared.state.withLock { $0.retryGeneration } }

    /// Wakes the attachment follower (an operator's pause or resume, a retry's delay over).
    func nudge() {
        wake.yield()
    }

    /// The records at `offsets` of a stream are done.
    func streamDone(_ offsets: [Int64]) {
        guard !offsets.isEmpty else { return }
        shared.state.withLock { state in state.position?.done(offsets) }
    }

    /// The record at `offset` of a stream is retried in place after `delay`: the consumer
    /// stops reading and attaches there again.
    func retryInPlace(_ offset: Int64, after delay: Duration) {
        let due = ContinuousClock.now + delay
        shared.state.withLock { state in
            state.position?.retry(offset)
            state.retryDue = max(state.retryDue ?? due, due)
            state.retryGeneration += 1
        }
        wake.yield()
    }

    /// When a stream may be attached again after an in-place retry; `nil` when none waits.
    var retryDue: ContinuousClock.Instant? { shared.state.withLock { $0.retryDue } }

    /// A stream's position is stored.
    func markStored(_ offset: Int64) {
        shared.state.withLock { state in state.position?.markStored(offset) }
    }

    /// Seals the fate of a batch's deliveries: `needsAck` is false for those nacked.
    func settle(_ settled: [(tag: UInt64, needsAck: Bool)]) {
        events.yield(.settled(settled))
    }

    /// Sends the last acks; call once no batch is in flight.
    func finishAcks() async {
        wake.finish()
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
