import IdemCore

/// A request written (or queued to be written) to one process, awaiting its response.
struct ExecInFlight: Sendable {
    /// The message ID.
    var id: String
    /// Tells apart requests with the same ID (see ``ExecRequest/serial``).
    var serial: UInt64
    /// The encoded request line, kept to run the request again on the next process if
    /// this one ends for a reason that cannot be pinned on one request.
    var line: [UInt8]
    /// When the request times out.
    var deadline: ContinuousClock.Instant
    /// Resumed exactly once with the call's result.
    var continuation: CheckedContinuation<HandlerResult, Never>

    /// The request to hand to a process again, waiting at most until `deadline`.
    func request(waitingUntil deadline: ContinuousClock.Instant) -> ExecRequest {
        ExecRequest(id: id, serial: serial, line: line, deadline: deadline, continuation: continuation)
    }
}
