import Synchronization

/// Where the partition workers and the store probe post their ``KafkaConsumerStateMachine/Event``s
/// for the poll loop, which takes them all at each turn: the only state they share.
final class KafkaInbox: Sendable {
    private let events = Mutex<[KafkaConsumerStateMachine.Event]>([])

    /// An empty inbox.
    init() {}

    /// Posts `event` for the poll loop.
    func post(_ event: KafkaConsumerStateMachine.Event) {
        events.withLock { $0.append(event) }
    }

    /// The events posted since the last call, in order.
    func take() -> [KafkaConsumerStateMachine.Event] {
        events.withLock { events in
            defer { events.removeAll(keepingCapacity: true) }
            return events
        }
    }
}
