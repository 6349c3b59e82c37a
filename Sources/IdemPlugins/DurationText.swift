extension Duration {
    /// The duration as a short text for reasons and logs: `250 ms`, `1.5 s`, `30 s`.
    var pluginText: String {
        let (seconds, attoseconds) = components
        let microseconds = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        if microseconds < 1000 {
            return "\(microseconds) µs"
        }
        if microseconds < 1_000_000 {
            return Self.decimal(microseconds, unit: 1000) + " ms"
        }
        return Self.decimal(microseconds / 1000, unit: 1000) + " s"
    }

    /// `value / unit` with up to three decimals, trailing zeros dropped.
    private static func decimal(_ value: Int64, unit: Int64) -> String {
        let whole = value / unit
        var fraction = value % unit
        guard fraction != 0 else { return String(whole) }
        var digits = 3
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let text = String(fraction)
        return "\(whole)." + String(repeating: "0", count: digits - text.count) + text
    }
}
