/// Publisher-confirm bookkeeping for one channel: sequence numbers, `basic.return`
/// matching and the outcome of every publish.
///
/// RabbitMQ numbers the publishes of a channel in confirm mode from 1, answers each with
/// `basic.ack` or `basic.nack` (possibly `multiple`, covering every earlier one), and sends
/// the `basic.return` of an unroutable `mandatory` message before the `basic.ack` that
/// confirms it. A return does not carry the sequence number, so it is matched to the
/// oldest unconfirmed mandatory publish with the same exchange, routing key and body: the
/// broker routes (and returns) a channel's messages in publish order, so that match is
/// the returned message.
struct AMQPConfirmTracker {
    /// What became of a publish.
    enum Outcome: Equatable {
        /// The broker confirmed it (`basic.ack`, not returned).
        case confirmed
        /// The broker returned or nacked it, or the channel closed before it was confirmed.
        case failed(AMQPError)
    }

    private struct Pending {
        var sequence: UInt64
        var exchange: String
        var routingKey: String
        /// The body of a mandatory publish, to match a return; `nil` when not mandatory.
        var body: [UInt8]?
        /// Whether a caller waits for this one (its outcome goes to `results`).
        var awaited: Bool
        var returned: AMQPError?
    }

    /// Whether the channel is in confirm mode (`confirm.select` done).
    private(set) var isEnabled = false
    private var nextSequence: UInt64 = 1
    /// Unconfirmed publishes, in sequence order.
    private var pending: [Pending] = []
    /// Outcomes of awaited publishes, until their caller takes them.
    private var results: [UInt64: Outcome] = [:]
    /// Failures of publishes no caller waits for, until ``takeFailures()``.
    private var failures: [AMQPError] = []

    /// Whether any publish is unconfirmed.
    var hasPending: Bool { !pending.isEmpty }

    /// How many publishes are unconfirmed.
    var pendingCount: Int { pending.count }

    /// Records that the channel entered confirm mode: numbering starts again at 1.
    mutating func enable() {
        isEnabled = true
        nextSequence = 1
    }

    /// The text that names a publish in error messages.
    static func operation(exchange: String, routingKey: String) -> String {
        "basic.publish to exchange '\(exchange)' with routing key '\(routingKey)'"
    }

    /// Records a publish and returns its sequence number (0 when not in confirm mode).
    mutating func published(
        exchange: String, routingKey: String, body: [UInt8], mandatory: Bool, awaited: Bool
    ) -> UInt64 {
        guard isEnabled else { return 0 }
        let sequence = nextSequence
        nextSequence += 1
        pending.append(
            Pending(
                sequence: sequence, exchange: exchange, routingKey: routingKey,
                body: mandatory ? body : nil, awaited: awaited))
        return sequence
    }

    /// Records a `basic.return`; returns whether it matched an unconfirmed publish.
    @discardableResult
    mutating func returned(
        exchange: String, routingKey: String, body: [UInt8], replyCode: UInt16, replyText: String
    ) -> Bool {
        guard
            let index = pending.firstIndex(where: {
                $0.returned == nil && $0.body != nil && $0.exchange == exchange
                    && $0.routingKey == routingKey && $0.body == body
            })
        else { return false }
        let operation = Self.operation(exchange: exchange, routingKey: routingKey)
        pending[index].returned = AMQPError(
            kind: .unroutable,
            message:
                "\(operation) was returned by the broker: \(replyCode) \(replyText) (no queue is bound for it)",
            replyCode: replyCode, replyText: replyText)
        return true
    }

    /// Records a `basic.ack`.
    mutating func acknowledged(tag: UInt64, multiple: Bool) {
        resolve(tag: tag, multiple: multiple) { $0.returned.map(Outcome.failed) ?? .confirmed }
    }

    /// Records a `basic.nack`.
    mutating func negativelyAcknowledged(tag: UInt64, multiple: Bool) {
        resolve(tag: tag, multiple: multiple) { entry in
            let operation = Self.operation(exchange: entry.exchange, routingKey: entry.routingKey)
            return .failed(
                AMQPError(
                    kind: .publishNacked,
                    message:
                        "\(operation) was refused by the broker (basic.nack): it may not have been stored"))
        }
    }

    /// The outcome of the awaited publish `sequence`, once known (taken only once).
    mutating func takeResult(for sequence: UInt64) -> Outcome? {
        results.removeValue(forKey: sequence)
    }

    /// Stops waiting for `sequence` (after a timeout): its outcome, when it comes, counts
    /// as a failure of an unawaited publish if it is one.
    mutating func stopAwaiting(_ sequence: UInt64) {
        if let index = pending.firstIndex(where: { $0.sequence == sequence }) {
            pending[index].awaited = false
        }
        results.removeValue(forKey: sequence)
    }

    /// The failures of unawaited publishes since the last call.
    mutating func takeFailures() -> [AMQPError] {
        defer { failures.removeAll() }
        return failures
    }

    /// The channel closed: every unconfirmed publish failed with `error`, the channel's
    /// numbering ends, and confirm mode must be selected again (``enable()``) on the next
    /// channel.
    mutating func channelClosed(_ error: AMQPError) {
        for entry in pending where !entry.awaited {
            let operation = Self.operation(exchange: entry.exchange, routingKey: entry.routingKey)
            var failure = error
            failure.message = "\(operation) was not confirmed before the channel closed: \(error.message)"
            failures.append(failure)
        }
        pending.removeAll()
        results.removeAll()
        nextSequence = 1
    }

    private mutating func resolve(tag: UInt64, multiple: Bool, outcome: (Pending) -> Outcome) {
        let range: Range<Int>
        if multiple {
            range = 0..<(pending.firstIndex { $0.sequence > tag } ?? pending.count)
        } else if let index = pending.firstIndex(where: { $0.sequence == tag }) {
            range = index..<(index + 1)
        } else {
            return
        }
        for entry in pending[range] {
            let result = outcome(entry)
            if entry.awaited {
                results[entry.sequence] = result
            } else if case .failed(let error) = result {
                failures.append(error)
            }
        }
        pending.removeSubrange(range)
    }
}
