import IdemCore

/// A request waiting for a process with room: its line and the caller's continuation.
struct ExecRequest: Sendable {
    /// The message ID, which the response must echo.
    var id: String
    /// A number unique within the handler, telling apart requests with the same ID.
    var serial: UInt64
    /// The encoded request line, newline included.
    var line: [UInt8]
    /// Until when the caller waits for a process while none is running.
    var deadline: ContinuousClock.Instant
    /// Resumed exactly once with the call's result.
    var continuation: CheckedContinuation<HandlerResult, Never>
}
