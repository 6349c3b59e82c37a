import IdemCore
import Synchronization

/// A handler for consumer tests whose effect is a line in memory: it records each message
/// it succeeds on (by ID), so that a test counts effects per message. What it returns is
/// decided per message by `script` (success when it returns `nil`), from the message and
/// the attempt; a success records the effect, a retry or reject records nothing (as a
/// transactional handler's effect is rolled back).
public final class EffectLog: MessageHandler {
    private let script: @Sendable (Message, HandlerContext) -> HandlerResult?
    private let state = Mutex((effects: [String](), calls: 0, running: 0, mostAtOnce: 0))
    private let delay: Duration

    /// A handler that answers `script`, taking `delay` per call.
    public init(
        delay: Duration = .zero,
        script: @escaping @Sendable (Message, HandlerContext) -> HandlerResult? = { _, _ in nil }
    ) {
        self.delay = delay
        self.script = script
    }

    public func handle(_ message: Message, context: HandlerContext) async throws -> HandlerResult {
        state.withLock { state in
            state.calls += 1
            state.running += 1
            state.mostAtOnce = max(state.mostAtOnce, state.running)
        }
        defer { state.withLock { $0.running -= 1 } }
        if delay > .zero { try await Task.sleep(for: delay) }
        let result = script(message, context) ?? .success
        if result == .success { state.withLock { $0.effects.append(context.id.value) } }
        return result
    }

    /// The IDs of the effects, in the order they happened.
    public var effects: [String] { state.withLock { $0.effects } }
    /// How many effects each ID had.
    public var effectCounts: [String: Int] { effects.reduce(into: [:]) { $0[$1, default: 0] += 1 } }
    /// How many times the handler ran.
    public var calls: Int { state.withLock { $0.calls } }
    /// The most calls that ran at the same time.
    public var mostAtOnce: Int { state.withLock { $0.mostAtOnce } }
}
