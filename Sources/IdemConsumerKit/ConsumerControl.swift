import Foundation
import Synchronization

/// Whether an operator paused a consumer (`idem ctl pause`, `POST /admin/consumers/NAME/pause`),
/// for its sessions to follow.
///
/// A paused consumer takes no new messages: a RabbitMQ session cancels its consumer on the
/// queue and consumes again on resume; a Kafka session pauses every assigned partition and
/// keeps polling, so that it stays in its group. What it already holds is finished and
/// settled as usual, so that a pause loses nothing and leaves no claim or lease behind. The
/// pause outlives the sessions: a session that starts while the consumer is paused starts
/// paused.
public final class ConsumerControl: Sendable {
    private struct State {
        var pausedSince: Date?
        var watchers: [UInt64: AsyncStream<Bool>.Continuation] = [:]
        var nextWatcher: UInt64 = 0
    }

    private let state = Mutex(State())

    /// A control that is not paused.
    public init() {}

    /// Whether the consumer is paused.
    public var isPaused: Bool { state.withLock { $0.pausedSince != nil } }

    /// When it was paused, or `nil` when it is not.
    public var pausedSince: Date? { state.withLock { $0.pausedSince } }

    /// Pauses the consumer; false when it already was.
    @discardableResult
    public func pause(at now: Date = Date()) -> Bool {
        set(paused: true, now: now)
    }

    /// Resumes the consumer; false when it was not paused.
    @discardableResult
    public func resume() -> Bool {
        set(paused: false, now: Date())
    }

    private func set(paused: Bool, now: Date) -> Bool {
        let watchers = state.withLock { state -> [AsyncStream<Bool>.Continuation]? in
            guard (state.pausedSince != nil) != paused else { return nil }
            state.pausedSince = paused ? now : nil
            return Array(state.watchers.values)
        }
        guard let watchers else { return false }
        for watcher in watchers { watcher.yield(paused) }
        return true
    }

    /// Whether the consumer is paused, now and after each change, until the stream's
    /// consumer stops iterating.
    public func changes() -> AsyncStream<Bool> {
        let (stream, continuation) = AsyncStream.makeStream(of: Bool.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state in
            defer { state.nextWatcher += 1 }
            state.watchers[state.nextWatcher] = continuation
            continuation.yield(state.pausedSince != nil)
            return state.nextWatcher
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }
}
