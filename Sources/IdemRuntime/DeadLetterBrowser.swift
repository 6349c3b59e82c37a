import IdemConsumerKit
import IdemCore
import IdemPostgresStore

/// Reading a consumer's dead letters with their replay history, for `idem dlq list` and
/// `idem dlq show`. Nothing is consumed or changed.
public struct DeadLetterBrowser: Sendable {
    let consumer: String
    let channel: any DeadLetterChannel
    let audit: ReplayAudit

    /// A browser of `consumer`'s dead letters in `channel`.
    public init(consumer: String, channel: any DeadLetterChannel, audit: ReplayAudit) {
        self.consumer = consumer
        self.channel = channel
        self.audit = audit
    }

    /// What ``list(limit:progress:)`` found.
    public struct Listing: Sendable {
        /// The consumer's dead letters (without their bodies), in order.
        public var entries: [DeadLetterEntry]
        /// Dead letters of other consumers in the same queue or topic, passed over.
        public var otherConsumers: Int
        /// Whether the limit stopped the listing before the end.
        public var truncated: Bool
    }

    /// The consumer's dead letters, at most `limit` of them, each with its replays.
    /// `progress` is called after each dead letter read.
    public func list(limit: Int?, progress: () -> Void = {}) async throws -> Listing {
        var listing = Listing(entries: [], otherConsumers: 0, truncated: false)
        var letters: [DeadLetter] = []
        while let letter = try await channel.next() {
            progress()
            guard letter.belongs(to: consumer) else {
                listing.otherConsumers += 1
                continue
            }
            if let limit, letters.count >= limit {
                listing.truncated = true
                break
            }
            letters.append(letter.withoutBody())
        }
        let history = try await audit.history(consumer: consumer, ids: letters.map(\.id))
        listing.entries = letters.map { DeadLetterEntry(letter: $0, history: history[$0.id] ?? []) }
        return listing
    }

    /// Which dead letter ``find(_:)`` looks for.
    public enum Selector: Sendable {
        /// The first with this message ID.
        case id(String)
        /// The one at this place: a position number of the listing, a location
        /// (`amqp:<queue>` is ambiguous; `<topic>:<partition>:<offset>` is not), or for
        /// Kafka `<partition>:<offset>`.
        case position(String)
    }

    /// The dead letter `selector` names, whole, with its replays; or `nil` and the replays
    /// of the ID (for an ID selector) when it is not there.
    public func find(_ selector: Selector) async throws -> (entry: DeadLetterEntry?, history: [ReplayRecord]) {
        while let letter = try await channel.next() {
            guard letter.belongs(to: consumer) else { continue }
            let matches: Bool
            switch selector {
            case .id(let id): matches = letter.id == id
            case .position(let position): matches = letter.isAt(position)
            }
            guard matches else { continue }
            let history = try await audit.history(consumer: consumer, ids: [letter.id])[letter.id] ?? []
            return (DeadLetterEntry(letter: letter, history: history), history)
        }
        guard case .id(let id) = selector else { return (nil, []) }
        return (nil, try await audit.history(consumer: consumer, ids: [id])[id] ?? [])
    }
}
