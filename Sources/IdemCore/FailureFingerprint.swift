import Crypto

/// What a dead letter failed of, with what varies from message to message taken out: its
/// reason and its last error with numbers, IDs, hex strings and quoted values replaced by
/// placeholders. Dead letters with the same fingerprint failed the same way, and are
/// listed, replayed and discarded together (`idem dlq groups`, `--group`).
///
/// `rejected order 17: amount '-3' below 0 (SQLSTATE 23514)` and
/// `rejected order 42: amount '-8' below 0 (SQLSTATE 23514)` are one group:
/// `rejected order <n>: amount '…' below <n> (SQLSTATE 23514)`; an SQLSTATE code is kept,
/// since it says which failure it was.
public struct FailureFingerprint: Sendable, Hashable {
    /// The `x-idem-reason` code (`rejected`, `attempts-exhausted`, `poison:no-id`), or `-`.
    public let reason: String
    /// The last error with its variable parts replaced.
    public let pattern: String
    /// A short stable name of the group: 10 hex digits of SHA-256 of the reason and pattern.
    public let group: String

    /// The fingerprint of a dead letter with `reason` and `lastError`.
    public init(reason: String?, lastError: String?) {
        self.reason = reason ?? "-"
        self.pattern = Self.normalize(lastError ?? "")
        let digest = SHA256.hash(data: Array("\(self.reason)\n\(pattern)".utf8))
        self.group = String(digest.withUnsafeBytes { UTF8Text.hex($0) }.prefix(10))
    }

    /// The longest pattern kept: error texts that differ only past it are one group.
    public static let maxPatternLength = 240

    /// `text` with its variable parts replaced: quoted values by `'…'` (or `"…"`), UUIDs by
    /// `<uuid>`, runs of 8 or more hex digits by `<hex>`, numbers by `<n>` (not those inside
    /// a word, nor an SQLSTATE code); whitespace runs become one space.
    public static func normalize(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var index = 0
        func append(_ string: String) { out.append(contentsOf: string.unicodeScalars) }
        while index < scalars.count && out.count < maxPatternLength {
            let scalar = scalars[index]
            if scalar == "'" || scalar == "\"" {
                if let close = scalars[(index + 1)...].firstIndex(of: scalar) {
                    append("\(scalar)…\(scalar)")
                    index = close + 1
                    continue
                }
            }
            if isWordStart(scalars, index) {
                let end = wordEnd(scalars, from: index)
                let word = scalars[index..<end]
                if isUUID(word) {
                    append("<uuid>")
                    index = end
                    continue
                }
                if word.count >= 8, word.allSatisfy(\.properties.isASCIIHexDigit),
                    word.contains(where: { ("0"..."9").contains($0) })
                {
                    append("<hex>")
                    index = end
                    continue
                }
            }
            if ("0"..."9").contains(scalar) {
                var end = index
                while end < scalars.count
                    && (("0"..."9").contains(scalars[end])
                        || (scalars[end] == "." && end + 1 < scalars.count && ("0"..."9").contains(scalars[end + 1])))
                {
                    end += 1
                }
                // A number that is part of a word (`v2`, `utf8`) is kept, and so is an
                // SQLSTATE code: it says which failure it was.
                let inWord =
                    index > 0
                    && (scalars[index - 1].properties.isAlphabetic || scalars[index - 1] == "_"
                        || ("0"..."9").contains(scalars[index - 1]))
                if inWord || String(out).hasSuffix("SQLSTATE ") {
                    out.append(contentsOf: scalars[index..<end])
                } else {
                    append("<n>")
                }
                index = end
                continue
            }
            if scalar.properties.isWhitespace {
                if let last = out.last, last != " " { out.append(" ") }
                index += 1
                continue
            }
            out.append(scalar)
            index += 1
        }
        var result = String(out)
        while result.hasSuffix(" ") { result.removeLast() }
        return result
    }

    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "-"
    }

    private static func isWordStart(_ scalars: [Unicode.Scalar], _ index: Int) -> Bool {
        isWordScalar(scalars[index]) && (index == 0 || !isWordScalar(scalars[index - 1]))
    }

    private static func wordEnd(_ scalars: [Unicode.Scalar], from start: Int) -> Int {
        var end = start
        while end < scalars.count && isWordScalar(scalars[end]) { end += 1 }
        return end
    }

    private static func isUUID(_ word: ArraySlice<Unicode.Scalar>) -> Bool {
        let groups = word.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12]
            && groups.allSatisfy { $0.allSatisfy(\.properties.isASCIIHexDigit) }
    }
}
