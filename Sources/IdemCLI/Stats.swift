import ArgumentParser
import Foundation
import IdemConfig
import IdemConsumerKit
import IdemPostgres
import IdemPostgresStore
import IdemRuntime

/// `idem stats --config FILE`: each consumer's rows in the dedup table and its last hour.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each consumer's dedup rows, oldest row and last hour, and the table's size.",
        discussion: """
            Per consumer: its rows by status (processing, done, failed, dead), when its oldest \
            row was first seen, and what every worker of the fleet counted over the last hour \
            (received, processed, duplicates, retried, dead-lettered, payload conflicts, from \
            the per-minute counts in <table>_stats). For the table: its size on disk with its \
            indexes, and the planner's estimate of its rows.

            Cost: counting the rows by status reads every row of the consumers shown (a \
            sequential scan on a large table: there is no index on status, which would slow \
            every claim). It takes no lock that gets in the workers' way, but on a table of many \
            millions of rows it takes as long as reading the table once. The size, the \
            estimate and the last hour cost next to nothing.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(
        name: .customLong("consumer"),
        help: ArgumentHelp("Show only this consumer (repeatable; default: every consumer).", valueName: "name"))
    var consumers: [String] = []

    @Flag(help: "Print one JSON object, for scripts.")
    var json = false

    func run() async throws {
        let config = try options.load()
        let chosen = try OperationsDatabase.consumers(named: consumers, in: config, command: "stats")
        let table = DedupTableName(config.postgres.table)
        let connection = try await OperationsDatabase.connect(
            config, command: "stats", logger: OperationsDatabase.logger())
        let reader = DedupStatistics(table: table)
        let size: DedupStatistics.TableSize
        let statistics: [ConsumerStatistics]
        do {
            size = try await reader.tableSize(on: connection)
            statistics = try await reader.consumers(chosen.map(\.name), on: connection)
        } catch {
            await connection.close()
            throw CLIFailure.runtime("idem stats: \(error)")
        }
        await connection.close()
        if json {
            print(try jsonText(table: table, size: size, statistics: statistics))
        } else {
            print(humanText(table: table, size: size, statistics: statistics))
        }
    }

    private func humanText(
        table: DedupTableName, size: DedupStatistics.TableSize, statistics: [ConsumerStatistics]
    ) -> String {
        let estimate = size.estimatedRows.map { "about \($0) rows" } ?? "rows not estimated yet (never analysed)"
        var lines = [
            "dedup table \(table): \(HumanFormat.bytes(size.totalBytes)) on disk with its indexes, \(estimate)", "",
        ]
        var rows = [["consumer", "processing", "done", "failed", "dead", "oldest row"]]
        for entry in statistics {
            let oldest =
                entry.oldestFirstSeen.map { first in
                    "\(first) (\(HumanFormat.age(seconds: entry.oldestAgeSeconds ?? 0)) ago)"
                } ?? "-"
            rows.append(
                [entry.consumer] + DedupRowStatus.allCases.map { String(entry.rows[$0] ?? 0) } + [oldest])
        }
        lines += HumanFormat.table(rows, leftAligned: [0, 5])
        lines.append("")
        var activity = [
            ["last hour", "received", "processed", "duplicates", "retried", "dead-lettered", "payload conflicts"]
        ]
        for entry in statistics {
            let hour = entry.lastHour
            activity.append(
                [entry.consumer]
                    + [
                        hour.received, hour.processed, hour.duplicates, hour.retried, hour.deadLettered,
                        hour.payloadConflicts,
                    ].map(String.init))
        }
        lines += HumanFormat.table(activity)
        return lines.joined(separator: "\n")
    }

    private func jsonText(
        table: DedupTableName, size: DedupStatistics.TableSize, statistics: [ConsumerStatistics]
    ) throws -> String {
        let consumers: [[String: Any]] = statistics.map { entry in
            let hour = entry.lastHour
            return [
                "consumer": entry.consumer,
                "rows": Dictionary(
                    uniqueKeysWithValues: DedupRowStatus.allCases.map { ($0.rawValue, entry.rows[$0] ?? 0) }),
                "total_rows": entry.totalRows,
                "oldest_first_seen_at": entry.oldestFirstSeen.map { $0 as Any } ?? NSNull(),
                "oldest_age_seconds": entry.oldestAgeSeconds.map { $0 as Any } ?? NSNull(),
                "last_hour": [
                    "received": hour.received, "processed": hour.processed, "duplicates": hour.duplicates,
                    "retried": hour.retried, "dead_lettered": hour.deadLettered,
                    "payload_conflicts": hour.payloadConflicts,
                ],
            ]
        }
        let object: [String: Any] = [
            "table": table.description,
            "total_bytes": size.totalBytes,
            "estimated_rows": size.estimatedRows.map { $0 as Any } ?? NSNull(),
            "consumers": consumers,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
