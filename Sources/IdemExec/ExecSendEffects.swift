/// What must happen, outside the lock, after requests were handed to a slot.
struct ExecSendEffects: Sendable {
    /// The slot's writer thread must be given a drain job.
    var scheduleWriter = false
    /// The slot's reader thread waits without a deadline and must be woken to set one.
    var wakeReader = false

    /// Combines the effects of two hand-overs.
    mutating func merge(_ other: ExecSendEffects) {
        scheduleWriter = scheduleWriter || other.scheduleWriter
        wakeReader = wakeReader || other.wakeReader
    }
}
