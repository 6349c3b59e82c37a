/// Numbers as the command line shows them to people.
enum HumanFormat {
    /// `512 B`, `1.5 KiB`, `190.2 MiB`, `3.1 GiB`.
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        return "\((value * 10).rounded() / 10) \(units[unit])"
    }

    /// The two largest units of an age: `45s`, `12m 5s`, `3h 12m`, `7d 2h`.
    static func age(seconds: Double) -> String {
        let total = max(0, Int64(seconds.rounded(.down)))
        let parts: [(Int64, String)] = [
            (total / 86400, "d"), (total % 86400 / 3600, "h"), (total % 3600 / 60, "m"), (total % 60, "s"),
        ]
        guard let first = parts.firstIndex(where: { $0.0 > 0 }) else { return "0s" }
        return parts[first...].prefix(2).filter { $0.0 > 0 }.map { "\($0.0)\($0.1)" }.joined(separator: " ")
    }

    /// Seconds with two decimals: `0.04 s`, `12.30 s`.
    static func seconds(_ duration: Duration) -> String {
        let (whole, attoseconds) = duration.components
        let hundredths = whole * 100 + attoseconds / 10_000_000_000_000_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) s"
    }

    /// Rows of cells as columns two spaces apart: the columns in `leftAligned` (by default
    /// the first) left-aligned, the others (numbers) right-aligned.
    static func table(_ rows: [[String]], leftAligned: Set<Int> = [0]) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return leftAligned.contains(column) ? cell + padding : padding + cell
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
