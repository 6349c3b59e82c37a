import Foundation
import Synchronization

/// A progress line for long command-line operations (replay, purge, benchmarks), redrawn
/// in place on standard error while it is a terminal, and silent in a pipe or a log file so
/// that scripts read only the final output.
public final class TerminalProgress: Sendable {
    private struct State {
        var done = 0
        var lastDrawn: ContinuousClock.Instant?
        var finished = false
        var drawnWidth = 0
    }

    private let label: String
    private let total: Int?
    private let enabled: Bool
    private let started = ContinuousClock.now
    private let state = Mutex(State())

    /// Creates a progress line for `label` (such as `replaying`) out of `total` items, when
    /// known. `enabled` defaults to whether standard error is a terminal; `CI=true` turns
    /// it off too.
    public init(_ label: String, total: Int? = nil, enabled: Bool = TerminalProgress.standardErrorIsTerminal) {
        self.label = label
        self.total = total
        self.enabled = enabled
    }

    /// Whether standard error is a terminal (and not a CI run, whose logs keep every
    /// carriage return).
    public static var standardErrorIsTerminal: Bool {
        isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["CI"] != "true"
    }

    /// Records `count` more items done and redraws at most ten times a second.
    public func advance(by count: Int = 1, detail: String = "") {
        let line: String? = state.withLock { state in
            state.done += count
            return enabled ? draw(&state, detail: detail, force: false) : nil
        }
        if let line { Self.write(line) }
    }

    /// Sets the count of items done and redraws at most ten times a second.
    public func update(done: Int, detail: String = "") {
        let line: String? = state.withLock { state in
            state.done = done
            return enabled ? draw(&state, detail: detail, force: false) : nil
        }
        if let line { Self.write(line) }
    }

    /// Draws the final count and ends the line, so that output after it starts on a line
    /// of its own.
    public func finish(detail: String = "") {
        let line: String? = state.withLock { state in
            guard enabled, !state.finished else { return nil }
            state.finished = true
            return draw(&state, detail: detail, force: true).map { $0 + "\n" }
        }
        if let line { Self.write(line) }
    }

    private func draw(_ state: inout State, detail: String, force: Bool) -> String? {
        let now = ContinuousClock.now
        if !force, let last = state.lastDrawn, now - last < .milliseconds(100) { return nil }
        state.lastDrawn = now
        let elapsed = now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var text = "\(label): \(state.done)"
        if let total {
            let percent = total > 0 ? Int((Double(state.done) / Double(total) * 100).rounded(.down)) : 100
            text += "/\(total) (\(percent) %)"
        }
        if seconds >= 1 { text += ", \(Int(Double(state.done) / seconds))/s" }
        if !detail.isEmpty { text += " \(detail)" }
        let padding = max(0, state.drawnWidth - text.count)
        state.drawnWidth = text.count
        return "\r" + text + String(repeating: " ", count: padding)
    }

    private static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
