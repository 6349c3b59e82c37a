import IdemConcurrency

/// The deliveries of a connection's consumers as a bounded async sequence.
///
/// A pump task reads deliveries on the connection's thread and buffers at most `capacity`
/// of them (size it to the prefetch: the broker never has more unacknowledged deliveries in
/// flight); while the buffer is full the pump stops reading, and acks and publishes keep
/// flowing on the same thread. Take deliveries one by one (`for try await`) or in batches
/// with ``nextBatch(maxCount:maxWait:)``. The sequence ends with the error that ended the
/// pump: a lost connection, a closed channel or a cancelled consumer.
public final class AMQPDeliveryStream: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery

    private let buffer: AsyncBoundedBuffer<AMQPDelivery>
    private let pump: Task<Void, Never>

    init(connection: AMQPConnection, capacity: Int) {
        let buffer = AsyncBoundedBuffer<AMQPDelivery>(capacity: capacity)
        self.buffer = buffer
        self.pump = Task {
            while !Task.isCancelled {
                let room = await buffer.waitForSpace()
                guard room > 0 else { break }
                do {
                    let deliveries = try await connection.nextDeliveries(maxCount: room, timeout: .seconds(1))
                    buffer.append(contentsOf: deliveries)
                } catch {
                    buffer.finish(throwing: error)
                    return
                }
            }
            buffer.finish()
        }
    }

    deinit {
        pump.cancel()
    }

    /// Up to `maxCount` deliveries: waits for the first, then at most `maxWait` for more;
    /// up to `limit` when more than `maxCount` are at hand by then. Returns an empty array
    /// once the stream is stopped and drained.
    ///
    /// - Throws: the ``AMQPError`` that ended the stream (after every delivery received
    ///   before it), or `CancellationError` when the calling task is cancelled.
    public func nextBatch(maxCount: Int, maxWait: Duration, limit: Int? = nil) async throws -> [AMQPDelivery] {
        try await buffer.nextBatch(maxCount: maxCount, maxWait: maxWait, limit: limit)
    }

    /// Stops reading: deliveries already buffered can still be taken, then the sequence
    /// ends. Deliveries the broker sends afterwards stay unacknowledged on the channel.
    public func stop() {
        pump.cancel()
        buffer.finish()
    }

    /// Deliveries buffered and not yet taken.
    public var buffered: Int { buffer.count }

    /// Iterates the deliveries one by one.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncBoundedBuffer<AMQPDelivery>.AsyncIterator

        /// The next delivery, or `nil` once the stream is stopped and drained.
        public mutating func next() async throws -> AMQPDelivery? {
            try await base.next()
        }
    }

    /// An iterator over the stream; iterate from one task only.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: buffer.makeAsyncIterator())
    }
}

extension AMQPConnection {
    /// The deliveries of this connection's consumers (see ``startConsuming(queue:consumerTag:exclusive:arguments:)``)
    /// as a bounded async sequence holding at most `capacity` of them; size it to the
    /// prefetch. Use one stream per connection, and ``AMQPDeliveryStream/stop()`` it before
    /// closing.
    public nonisolated func deliveries(capacity: Int) -> AMQPDeliveryStream {
        AMQPDeliveryStream(connection: self, capacity: capacity)
    }
}
