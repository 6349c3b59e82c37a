import Foundation
import IdemConsumerKit
import IdemCore
import IdemPostgresStore
import IdemRuntime

/// How `idem dlq` prints dead letters: tables and JSON lines.
enum DeadLetterText {
    /// The body bytes `idem dlq show` prints without `--full`.
    static let bodyLimit = 4096

    /// A header value as text: strings as they are, bytes as UTF-8 or `hex:…`, timestamps
    /// with their ISO 8601 form.
    static func headerText(_ value: HeaderValue) -> String {
        switch value {
        case .string(let text): return text
        case .bytes(let bytes): return String(validating: bytes, as: UTF8.self) ?? "hex:" + UTF8Text.hex(bytes)
        case .timestamp(let seconds): return "\(seconds) (\(EpochTime.text(Double(seconds))))"
        case .array(let items): return "[" + items.map(headerText).joined(separator: ", ") + "]"
        case .table(let table):
            return "{" + table.keys.sorted().map { "\($0): \(headerText(table[$0]!))" }.joined(separator: ", ") + "}"
        case .void: return "(void)"
        default: return value.identityText ?? "?"
        }
    }

    /// The first line of `text`, at most `limit` characters, `…` marking a cut.
    static func shortened(_ text: String, to limit: Int) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let cut = line.count > limit || line.count < text.count
        return cut ? String(line.prefix(limit - 1)) + "…" : line
    }

    /// Columns padded to their widest cell, two spaces apart; the last column unpadded.
    static func table(_ rows: [[String]]) -> String {
        guard let columns = rows.first?.count else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == columns - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `yes: audit #12 at … by …` or `no`, for a dead letter's replay state.
    static func replayState(_ entry: DeadLetterEntry) -> String {
        guard let covering = entry.coveringReplay else {
            return entry.history.isEmpty ? "no" : "no (replayed before it was dead-lettered)"
        }
        return covering.action == .discard ? "discarded (audit #\(covering.id))" : "yes (audit #\(covering.id))"
    }

    /// The JSON of a replay audit row.
    static func json(_ record: ReplayRecord) -> JSONValue {
        .object([
            ("audit_id", .number(String(record.id))),
            ("replayed_at", .string(EpochTime.text(record.replayedAt))),
            ("replayed_by", .string(record.replayedBy)),
            ("forced", .bool(record.forced)),
            ("dead_letter_source", .string(record.deadLetterSource)),
            ("target", .string(record.target)),
            ("action", .string(record.action.rawValue)),
            ("row_reset", .bool(record.rowReset)),
        ])
    }

    /// The JSON of a dead letter's `x-idem-*` facts and replay state (no body, headers).
    static func summaryMembers(_ entry: DeadLetterEntry) -> [(String, JSONValue)] {
        let letter = entry.letter
        let metadata = letter.metadata
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        func time(_ value: UInt64?) -> JSONValue { value.map { .string(EpochTime.text(Double($0))) } ?? .null }
        return [
            ("position", .number(String(letter.position))),
            ("location", .string(letter.location)),
            ("id", .string(letter.id)),
            ("id_derived", .bool(metadata.messageId != nil)),
            ("reason", text(metadata.reason)),
            ("attempts", metadata.attempts.map { .number(String($0)) } ?? .null),
            ("dead_lettered_at", time(letter.deadLetteredAt)),
            ("first_seen", time(metadata.firstSeen)),
            ("source", text(metadata.source)),
            ("consumer", text(metadata.consumer)),
            ("last_error", text(metadata.lastError)),
            ("group", .string(letter.fingerprint.group)),
            ("replay_id", metadata.replayId.map { .number(String($0)) } ?? .null),
            ("body_size", .number(String(letter.bodySize))),
            ("replayed", .bool(entry.coveringReplay != nil)),
            ("replay", entry.coveringReplay.map(json) ?? .null),
        ]
    }

    /// The body for people: its text, or base64 when it is not UTF-8; cut at `limit` bytes.
    static func body(_ bytes: [UInt8], limit: Int?) -> (label: String, text: String, truncated: Bool, isText: Bool) {
        let shown = limit.map { Array(bytes.prefix($0)) } ?? bytes
        let truncated = shown.count < bytes.count
        // A cut may split the last character: the whole body decides whether it is text.
        if String(validating: bytes, as: UTF8.self) != nil {
            return ("\(bytes.count) bytes, UTF-8 text", String(decoding: shown, as: UTF8.self), truncated, true)
        }
        return ("\(bytes.count) bytes, not UTF-8, shown in base64", Data(shown).base64EncodedString(), truncated, false)
    }
}
