import IdemConsumerKit
import IdemCore
import Synchronization

/// The dead letters of an ``InMemoryBroker``, for the `idem dlq` logic: listed in order,
/// replayed to the queue, removed.
struct InMemoryDeadLetterChannel: DeadLetterChannel {
    let broker: InMemoryBroker
    private let cursor = Cursor()

    init(broker: InMemoryBroker) {
        self.broker = broker
    }

    /// Where a dead letter is in the broker's list.
    struct Origin: DeadLetterOrigin {
        var index: Int

        func withoutBody() -> any DeadLetterOrigin { self }
    }

    /// The next position to read.
    final class Cursor: Sendable {
        private let next = Mutex(0)

        func advance(past letters: [InMemoryBroker.DeadLettered]) -> Int? {
            next.withLock { next in
                while next < letters.count && letters[next].removed { next += 1 }
                guard next < letters.count else { return nil }
                defer { next += 1 }
                return next
            }
        }
    }

    var name: String { "memory-dlq" }
    var count: Int? { broker.deadLetters.filter { !$0.removed }.count }
    var removesDeadLetters: Bool { true }

    func next() async throws -> DeadLetter? {
        let letters = broker.deadLetters
        guard let index = cursor.advance(past: letters) else { return nil }
        let letter = letters[index]
        let headers = letter.message.headers.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        return DeadLetter(
            position: index + 1, location: "memory-dlq:\(index)",
            headers: letter.headers.map { (name: $0.0, value: $0.1) } + headers, body: letter.message.body,
            attributes: [], fallbackTime: nil, origin: Origin(index: index))
    }

    func target(for letter: DeadLetter) throws -> String { "memory" }

    func republish(_ letter: DeadLetter, replayID: Int64) async throws -> String {
        guard let origin = letter.origin as? Origin else {
            throw DeadLetterChannelError("\(letter.location) is not a dead letter of \(name)")
        }
        broker.replay(origin.index, headers: [DeadLetterHeaders.replayId: .int(replayID)])
        return "memory"
    }

    func remove(_ letter: DeadLetter) async throws {
        guard let origin = letter.origin as? Origin else {
            throw DeadLetterChannelError("\(letter.location) is not a dead letter of \(name)")
        }
        broker.removeDeadLetter(origin.index)
    }

    func close() async {}
}
