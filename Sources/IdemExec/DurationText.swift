/// Short human-readable text for durations in reasons and logs: `2 s`, `1.5 s`, `250 ms`.
enum DurationText {
    /// The duration as text, rounded to whole milliseconds.
    static func describe(_ duration: Duration) -> String {
        let milliseconds = milliseconds(duration)
        if milliseconds < 1000 { return "\(milliseconds) ms" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
        let tenths = (milliseconds + 50) / 100
        return "\(tenths / 10).\(tenths % 10) s"
    }

    /// Whole milliseconds of `duration` (rounded up, saturating, never negative).
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let scaled = seconds.multipliedReportingOverflow(by: 1000)
        guard !scaled.overflow else { return Int64.max }
        let fraction = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return scaled.partialValue &+ fraction
    }

    /// A `poll(2)` timeout for waiting until `deadline`: `-1` (forever) for `nil`, else the
    /// milliseconds left, rounded up, within `0...Int32.max`.
    static func pollTimeout(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return -1 }
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return 0 }
        return Int32(clamping: milliseconds(left))
    }
}
