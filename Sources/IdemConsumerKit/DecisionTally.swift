import IdemCore

/// What a batch's decisions amount to, counted the way the metrics and `idem stats` count
/// them.
public struct DecisionTally: Sendable, Hashable {
    /// Messages taken from the broker.
    public var received = 0
    /// Messages whose handler succeeded (effect committed or recorded).
    public var processed = 0
    /// Redeliveries of IDs already done (payload conflicts accepted as duplicates included).
    public var duplicates = 0
    /// Transient handler failures with attempts left: retried after a backoff.
    public var retried = 0
    /// Messages put back without using an attempt: a live lease elsewhere, a deadlock, or
    /// an earlier record of the partition being retried.
    public var deferred = 0
    /// Messages dead-lettered, by reason code.
    public var deadLettered: [String: Int] = [:]
    /// Duplicates whose body differed from the one processed.
    public var payloadConflicts = 0

    /// The total of ``deadLettered``.
    public var deadLetteredTotal: Int { deadLettered.values.reduce(0, +) }

    /// Counts `dispositions`, one per message received.
    public init(_ dispositions: some Sequence<Disposition>) {
        for disposition in dispositions {
            received += 1
            switch disposition {
            case .acknowledge(.processed):
                processed += 1
            case .acknowledge(.duplicate), .acknowledge(.deadLetteredBefore):
                duplicates += 1
            case .acknowledge(.payloadConflictAccepted):
                duplicates += 1
                payloadConflicts += 1
            case .retry(_, let countsAsAttempt, _):
                if countsAsAttempt { retried += 1 } else { deferred += 1 }
            case .deadLetter(let reason):
                deadLettered[reason.code, default: 0] += 1
                if case .payloadConflict = reason { payloadConflicts += 1 }
            case .suspend:
                break
            }
        }
    }

    /// An empty tally.
    public init() {}

    /// Adds `other` to this tally.
    public mutating func add(_ other: DecisionTally) {
        received += other.received
        processed += other.processed
        duplicates += other.duplicates
        retried += other.retried
        deferred += other.deferred
        payloadConflicts += other.payloadConflicts
        deadLettered.merge(other.deadLettered, uniquingKeysWith: +)
    }
}
