import IdemConsumerKit

/// Publishes to an ``InMemoryBroker``'s queue, for `idem publish`-style tests; every message
/// is taken at once.
struct InMemoryPublisher: MessagePublisher {
    let broker: InMemoryBroker

    var batchLimit: Int { 50 }

    func send(_ messages: [OutgoingMessage]) async throws {
        for outgoing in messages { broker.publish(outgoing.message) }
    }

    func close() async {}
}
