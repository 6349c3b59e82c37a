import Foundation
import Synchronization

/// What `/readyz` reports: whether PostgreSQL answers and every consumer is connected to
/// its broker and consuming. A consumer an operator paused (``ConsumerControl``) is shown as
/// paused and does not make the worker unready: it is where the operator wants it.
public final class HealthState: Sendable {
    /// Where a consumer is.
    public enum ConsumerState: Sendable, Hashable, CustomStringConvertible {
        /// Not consuming yet (waiting for PostgreSQL, connecting).
        case starting
        /// Connected to its broker and taking messages.
        case consuming
        /// Connected but not taking messages, for the reason given (PostgreSQL lost).
        case paused(String)
        /// Its broker connection was lost; reconnecting.
        case reconnecting(String)
        /// Stopped (shutdown).
        case stopped

        /// Words for `/readyz`.
        public var description: String {
            switch self {
            case .starting: return "starting"
            case .consuming: return "consuming"
            case .paused(let why): return "paused: \(why)"
            case .reconnecting(let why): return "reconnecting: \(why)"
            case .stopped: return "stopped"
            }
        }
    }

    private struct State {
        var postgres: (ok: Bool, detail: String) = (false, "not checked yet")
        var consumers: [(name: String, state: ConsumerState)] = []
        var controls: [String: ConsumerControl] = [:]
    }

    private let state = Mutex(State())

    /// Creates the state of `consumers`, all ``ConsumerState/starting``, with PostgreSQL not
    /// checked yet.
    public init(consumers: [String]) {
        state.withLock { $0.consumers = consumers.map { ($0, .starting) } }
    }

    /// Records whether PostgreSQL answered the last probe.
    public func setPostgres(ok: Bool, detail: String) {
        state.withLock { $0.postgres = (ok, detail) }
    }

    /// Shows `consumer`'s operator pauses, as `control` records them.
    public func attach(_ control: ConsumerControl, to consumer: String) {
        state.withLock { $0.controls[consumer] = control }
    }

    /// Records where `consumer` is.
    public func set(_ consumer: String, _ consumerState: ConsumerState) {
        state.withLock { state in
            if let index = state.consumers.firstIndex(where: { $0.name == consumer }) {
                state.consumers[index].state = consumerState
            } else {
                state.consumers.append((consumer, consumerState))
            }
        }
    }

    /// Where `consumer` is, or `nil` for a consumer it does not know.
    public func state(of consumer: String) -> ConsumerState? {
        state.withLock { state in state.consumers.first { $0.name == consumer }?.state }
    }

    /// Whether the worker is ready, with one line per check for the response body.
    public func readiness() -> (ready: Bool, report: String) {
        state.withLock { state in
            var lines = ["postgres: \(state.postgres.ok ? "ok" : "down: \(state.postgres.detail)")"]
            var ready = state.postgres.ok
            for consumer in state.consumers {
                if let since = state.controls[consumer.name]?.pausedSince {
                    let when = since.formatted(.iso8601)
                    lines.append("consumer \(consumer.name): paused by an operator since \(when) (\(consumer.state))")
                } else {
                    lines.append("consumer \(consumer.name): \(consumer.state)")
                }
                if consumer.state != .consuming { ready = false }
            }
            return (ready, (ready ? "ready\n" : "not ready\n") + lines.joined(separator: "\n") + "\n")
        }
    }
}
