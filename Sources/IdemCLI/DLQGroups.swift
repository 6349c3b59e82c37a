import ArgumentParser
import IdemConsumerKit
import IdemCore
import IdemRuntime
import IdemTerminal

/// `idem dlq groups`: a consumer's dead letters by failure fingerprint.
struct DLQGroups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups",
        abstract: "Group a consumer's dead letters by how they failed.",
        discussion: """
            Dead letters with the same reason and the same last error, once what varies from \
            message to message is taken out (numbers, UUIDs, hex strings, quoted values; an \
            SQLSTATE code is kept), are one group. One line per group, largest first: its name \
            (give it to replay --group or discard --group), how many dead letters it has and \
            how many of them a replay or discard already covered, the reason, when the first \
            and the last were dead-lettered, and the error pattern. Nothing is consumed.
            """
    )

    @OptionGroup var options: DLQOptions

    @Flag(help: "One JSON object per line instead of a table.")
    var json = false

    /// One failure group of the listing.
    struct Group {
        var fingerprint: FailureFingerprint
        var count = 0
        var covered = 0
        var first: UInt64?
        var last: UInt64?
        var example: String
    }

    func run() async throws {
        let (config, consumer) = try options.load()
        let (listing, channelName) = try await DLQOptions.browse(
            config, consumer, command: "dlq groups", limit: nil)
        let groups = Self.groups(listing.entries)
        if json {
            for group in groups { print(Self.json(group).jsonText) }
            return
        }
        let total = listing.entries.count
        print(
            "\(consumer.name): \(total) dead letter\(total == 1 ? "" : "s") in \(channelName), \(groups.count) group\(groups.count == 1 ? "" : "s")"
        )
        guard !groups.isEmpty else { return }
        var rows = [["GROUP", "COUNT", "TAKEN", "REASON", "FIRST", "LAST", "ERROR PATTERN"]]
        for group in groups {
            rows.append([
                group.fingerprint.group, String(group.count), String(group.covered), group.fingerprint.reason,
                EpochTime.text(group.first), EpochTime.text(group.last),
                DeadLetterText.shortened(group.fingerprint.pattern.isEmpty ? "-" : group.fingerprint.pattern, to: 100),
            ])
        }
        print(DeadLetterText.table(rows))
    }

    /// The entries' groups, largest first (then by name).
    static func groups(_ entries: [DeadLetterEntry]) -> [Group] {
        var byName: [String: Group] = [:]
        for entry in entries {
            let fingerprint = entry.letter.fingerprint
            var group =
                byName[fingerprint.group]
                ?? Group(fingerprint: fingerprint, example: entry.letter.metadata.lastError ?? "")
            group.count += 1
            if entry.coveringReplay != nil { group.covered += 1 }
            if let time = entry.letter.deadLetteredAt {
                group.first = min(group.first ?? time, time)
                group.last = max(group.last ?? time, time)
            }
            byName[fingerprint.group] = group
        }
        return byName.values.sorted { ($1.count, $0.fingerprint.group) < ($0.count, $1.fingerprint.group) }
    }

    static func json(_ group: Group) -> JSONValue {
        func time(_ value: UInt64?) -> JSONValue { value.map { .string(EpochTime.text(Double($0))) } ?? .null }
        return .object([
            ("group", .string(group.fingerprint.group)),
            ("count", .number(String(group.count))),
            ("taken", .number(String(group.covered))),
            ("reason", .string(group.fingerprint.reason)),
            ("pattern", .string(group.fingerprint.pattern)),
            ("example", .string(group.example)),
            ("first_dead_lettered_at", time(group.first)),
            ("last_dead_lettered_at", time(group.last)),
        ])
    }
}
