import IdemCore

/// A request written (or queued to be written) to one process, awaiting its response.
struct ExecInFlight: Sendable {
    /// The message ID.
    var id: String
    /// Tells apart requests with the same ID (see ``ExecRequest/serial``).
    var serial: UInt64
    /// When the request times out.
    var deadline: ContinuousClock.Instant
    /// Resumed exactly once with the call's result.
    var continuation: CheckedContinuation<HandlerResult, Never>
}
