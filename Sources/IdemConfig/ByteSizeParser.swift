import Foundation

/// Sizes in configuration files: bytes, or a number with `KiB`, `MiB`, `GiB` (or `KB`,
/// `MB`, `GB`, taken as the same powers of 1024).
public enum ByteSizeParser {
    /// The size in bytes, or `nil` if the text is not of that form.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
        let units: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1 << 10), ("MB", 1 << 20),
            ("GB", 1 << 30), ("B", 1),
        ]
        for (unit, factor) in units where trimmed.hasSuffix(unit) {
            let number = trimmed.dropLast(unit.count).trimmingCharacters(in: .whitespaces)
            guard let value = Int(number), value >= 0 else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? nil : product
        }
        return Int(trimmed).flatMap { $0 >= 0 ? $0 : nil }
    }
}
