import DequeModule
import Synchronization

/// A bounded buffer between one producer and one consumer, with back-pressure both ways.
///
/// The producer asks for room with ``waitForSpace()`` (which suspends while the buffer is
/// full) and adds with ``append(contentsOf:)``; the consumer takes batches with
/// ``nextBatch(maxCount:maxWait:)`` (up to a count, or whatever arrived within a wait after
/// the first element) or single elements through `AsyncSequence`. ``finish(throwing:)`` ends
/// the sequence once the elements already in it are taken.
public final class AsyncBoundedBuffer<Element: Sendable>: AsyncSequence, Sendable {
    /// The most elements the buffer holds before ``waitForSpace()`` suspends.
    public let capacity: Int
    private let state: Mutex<State>

    private struct Waiter {
        var id: UInt64
        var minimum: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var elements: Deque<Element> = []
        var finished = false
        var failure: (any Error)?
        var consumer: Waiter?
        var producer: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
    }

    /// Creates an empty buffer holding at most `capacity` elements (at least 1).
    public init(capacity: Int) {
        self.capacity = Swift.max(1, capacity)
        self.state = Mutex(State())
    }

    /// The number of elements waiting to be taken.
    public var count: Int { state.withLock { $0.elements.count } }

    // MARK: Producer

    /// Waits until the buffer has room and returns how many elements fit; 0 once the buffer
    /// is finished or the calling task is cancelled.
    public func waitForSpace() async -> Int {
        while true {
            let (id, room) = state.withLock { state -> (UInt64, Int?) in
                state.nextID += 1
                if state.finished { return (state.nextID, 0) }
                let room = capacity - state.elements.count
                return (state.nextID, room > 0 ? room : nil)
            }
            if let room { return room }
            if Task.isCancelled { return 0 }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.finished || state.elements.count < capacity || Task.isCancelled { return true }
                        state.producer = (id, continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                resumeProducer(id: id)
            }
            if Task.isCancelled { return 0 }
        }
    }

    /// Adds `elements` (the producer asked for room first; a finished buffer drops them).
    public func append(contentsOf elements: some Sequence<Element>) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            state.elements.append(contentsOf: elements)
            guard let consumer = state.consumer, state.elements.count >= consumer.minimum else { return nil }
            state.consumer = nil
            return consumer.continuation
        }
        waiter?.resume()
    }

    /// Ends the buffer: the consumer takes what is left (unless `discardingRemaining`, when
    /// what is left is dropped), then gets `error` (or the end of the sequence); the
    /// producer's ``waitForSpace()`` returns 0.
    public func finish(throwing error: (any Error)? = nil, discardingRemaining: Bool = false) {
        let (consumer, producer) = state.withLock { state in
            if !state.finished {
                state.finished = true
                state.failure = error
            }
            if discardingRemaining { state.elements.removeAll() }
            defer {
                state.consumer = nil
                state.producer = nil
            }
            return (state.consumer?.continuation, state.producer?.continuation)
        }
        consumer?.resume()
        producer?.resume()
    }

    // MARK: Consumer

    /// Takes up to `maxCount` elements: waits for the first one, then at most `maxWait` for
    /// the batch to fill; when more than `maxCount` are at hand by then, takes up to `limit`
    /// of them (an adaptive batch). Returns an empty array once the buffer is finished and
    /// empty (or throws the error it was finished with).
    ///
    /// - Throws: `CancellationError` when the calling task is cancelled while nothing is at
    ///   hand, or the error given to ``finish(throwing:)``.
    public func nextBatch(maxCount: Int, maxWait: Duration, limit: Int? = nil) async throws -> [Element] {
        let maxCount = Swift.max(1, maxCount)
        let limit = Swift.max(maxCount, limit ?? maxCount)
        await wait(untilCount: 1, deadline: nil)
        if maxWait > .zero, state.withLock({ !$0.finished && $0.elements.count < maxCount }) {
            await wait(untilCount: maxCount, deadline: .now + maxWait)
        }
        let (batch, failure) = state.withLock { state -> ([Element], (any Error)?) in
            let count = Swift.min(limit, state.elements.count)
            let batch = Array(state.elements.prefix(count))
            state.elements.removeFirst(count)
            return (batch, batch.isEmpty && state.finished ? state.failure : nil)
        }
        if !batch.isEmpty {
            let producer = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.producer = nil }
                return state.producer?.continuation
            }
            producer?.resume()
            return batch
        }
        if let failure { throw failure }
        if Task.isCancelled && !state.withLock({ $0.finished }) { throw CancellationError() }
        return []
    }

    /// Takes up to `maxCount` of the elements at hand, without waiting (none when it is
    /// empty).
    public func takeAvailable(maxCount: Int) -> [Element] {
        let (batch, producer) = state.withLock { state -> ([Element], CheckedContinuation<Void, Never>?) in
            let count = Swift.min(Swift.max(0, maxCount), state.elements.count)
            guard count > 0 else { return ([], nil) }
            let batch = Array(state.elements.prefix(count))
            state.elements.removeFirst(count)
            defer { state.producer = nil }
            return (batch, state.producer?.continuation)
        }
        producer?.resume()
        return batch
    }

    /// Suspends until the buffer holds `minimum` elements, is finished, `deadline` passes or
    /// the task is cancelled.
    private func wait(untilCount minimum: Int, deadline: ContinuousClock.Instant?) async {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        let timer = deadline.map { deadline in
            Task { [weak self] in
                try? await Task.sleep(until: deadline)
                self?.resumeConsumer(id: id)
            }
        }
        defer { timer?.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.finished || state.elements.count >= minimum || Task.isCancelled { return true }
                    if let deadline, deadline <= .now { return true }
                    precondition(state.consumer == nil, "AsyncBoundedBuffer has one consumer")
                    state.consumer = Waiter(id: id, minimum: minimum, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            resumeConsumer(id: id)
        }
    }

    private func resumeConsumer(id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let consumer = state.consumer, consumer.id == id else { return nil }
            state.consumer = nil
            return consumer.continuation
        }
        waiter?.resume()
    }

    private func resumeProducer(id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let producer = state.producer, producer.id == id else { return nil }
            state.producer = nil
            return producer.continuation
        }
        waiter?.resume()
    }

    // MARK: AsyncSequence

    /// Iterates the elements one by one until the buffer is finished.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: AsyncBoundedBuffer

        /// The next element, or `nil` at the end.
        public mutating func next() async throws -> Element? {
            try await buffer.nextBatch(maxCount: 1, maxWait: .zero).first
        }
    }

    /// An iterator over the buffer; iterate from one task only.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: self)
    }
}
