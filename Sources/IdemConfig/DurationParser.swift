import Foundation

/// Durations in configuration files: a number and a unit (`ms`, `s`, `m`, `h`, `d`), such
/// as `250ms`, `1.5s`, `30s`, `5m`, `2h`, `7d`; `0` alone is accepted.
public enum DurationParser {
    /// The duration, or `nil` if the text is not of that form.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "0" { return .zero }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (unit, seconds) in units where trimmed.hasSuffix(unit) {
            let number = trimmed.dropLast(unit.count).trimmingCharacters(in: .whitespaces)
            // "5ms" also ends in "s"; the order of `units` tries "ms" first.
            guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }),
                let value = Double(number), value.isFinite, value >= 0
            else { continue }
            return .milliseconds(Int64((value * seconds * 1000).rounded()))
        }
        return nil
    }

    /// The shortest exact text for `duration` in the units above.
    public static func format(_ duration: Duration) -> String {
        let milliseconds = Int64(duration.seconds * 1000)
        if milliseconds == 0 { return "0" }
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}
