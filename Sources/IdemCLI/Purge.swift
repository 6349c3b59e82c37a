import ArgumentParser
import Foundation
import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemPostgres
import IdemPostgresStore
import IdemRuntime
import IdemTerminal
import Logging

/// `idem purge --config FILE --older-than DURATION`: deletes old dedup rows once, in the
/// sweeper's small batches.
struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete dedup rows not updated for a given time, once, in small batches.",
        discussion: """
            Deletes each consumer's rows (by default its done and dead ones) last updated \
            before now minus --older-than, by PostgreSQL's clock, the way the retention \
            sweeper of `idem run` does: --batch rows per statement, each its own short \
            transaction, skipping rows that a worker holds locked. Workers may keep running. \
            On a terminal a progress line shows on standard error; standard output gets one \
            summary line per consumer.

            --older-than must not be shorter than the consumer's redelivery horizon (its retry \
            delays × attempts, plus an hour for the broker to redeliver after a crash): a \
            message redelivered after its row is gone would be processed again. --force \
            purges anyway. `processing` rows are never purged: they are claims in progress, \
            or a crashed worker's that the redelivery must take over with the next fence.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: ArgumentHelp("Delete rows not updated for this long, e.g. 30d or 12h.", valueName: "duration"))
    var olderThan: String

    @Option(
        name: .customLong("consumer"),
        help: ArgumentHelp("Purge only this consumer (repeatable; default: every consumer).", valueName: "name"))
    var consumers: [String] = []

    @Option(help: ArgumentHelp("The statuses to delete, comma-separated: done, dead, failed.", valueName: "list"))
    var status = "done,dead"

    @Option(
        help: ArgumentHelp(
            "Rows per delete statement, 1 to 100000 (default: the consumer's dedup.sweep_batch).", valueName: "n"))
    var batch: Int?

    @Flag(help: "Count the rows that would be deleted, and delete nothing.")
    var dryRun = false

    @Flag(help: "Purge even when --older-than is shorter than a consumer's redelivery horizon.")
    var force = false

    func validate() throws {
        guard DurationParser.parse(olderThan) != nil else {
            throw ValidationError("--older-than: expected a duration such as 12h, 30d or 90m, got '\(olderThan)'")
        }
        _ = try statuses()
        if let batch, !(1...100_000).contains(batch) {
            throw ValidationError("--batch: expected a whole number from 1 to 100000, got \(batch)")
        }
    }

    /// The statuses of `--status`, in the order of a row's life.
    private func statuses() throws -> [DedupRowStatus] {
        var chosen: Set<DedupRowStatus> = []
        for name in status.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let parsed = DedupRowStatus(rawValue: name), parsed != .processing else {
                if name == DedupRowStatus.processing.rawValue {
                    throw ValidationError(
                        "--status: processing rows are never purged: they are claims in progress, or a crashed worker's that the redelivery must take over with the next fence"
                    )
                }
                throw ValidationError("--status: expected done, dead or failed, separated by commas, got '\(name)'")
            }
            chosen.insert(parsed)
        }
        guard !chosen.isEmpty else { throw ValidationError("--status: name at least one of done, dead, failed") }
        return chosen.sorted()
    }

    func run() async throws {
        let config = try options.load()
        let age = DurationParser.parse(olderThan)!
        let statuses = try statuses()
        let chosen = try OperationsDatabase.consumers(named: consumers, in: config, command: "purge")
        if !force {
            let refusals = chosen.compactMap { consumer -> String? in
                let horizon = ConfigWarnings.redeliveryHorizon(of: consumer)
                guard age < horizon else { return nil }
                return
                    "idem purge: --older-than \(DurationParser.format(age)) is shorter than the redelivery horizon of consumer \(consumer.name) (\(DurationParser.format(horizon)): retry delays × attempts, plus an hour for the broker to redeliver); a message redelivered after its row is gone would be processed again. Use --force to purge anyway."
            }
            if !refusals.isEmpty { throw CLIFailure.config(refusals.joined(separator: "\n")) }
        }
        let logger = OperationsDatabase.logger()
        let probe = try await OperationsDatabase.connect(config, command: "purge", logger: logger)
        await probe.close()
        let pool = PostgresPool(
            url: config.postgres.url, size: 1, connectTimeout: config.postgres.connectTimeout,
            applicationName: "idem purge", logger: logger)
        let retention = DedupRetention(pool: pool, table: DedupTableName(config.postgres.table))
        let statusList = statuses.map(\.rawValue).joined(separator: ", ")
        do {
            for consumer in chosen {
                let cutoff = try await retention.cutoff(age: age)
                if dryRun {
                    let count = try await retention.countExpired(
                        consumer: consumer.name, statuses: statuses, before: cutoff)
                    print(
                        "\(consumer.name): would delete \(count) rows (\(statusList)) last updated before \(cutoff) (dry run)"
                    )
                    continue
                }
                let started = ContinuousClock.now
                let progress = TerminalProgress("purging \(consumer.name)")
                let deleted = try await retention.deleteExpired(
                    consumer: consumer.name, statuses: statuses, before: cutoff,
                    batchSize: batch ?? consumer.dedup.sweepBatch, pacing: .continuous,
                    onBatch: { progress.advance(by: $0) })
                progress.finish()
                print(
                    "\(consumer.name): deleted \(deleted) rows (\(statusList)) last updated before \(cutoff) in \(HumanFormat.seconds(ContinuousClock.now - started))"
                )
            }
        } catch {
            await pool.close()
            throw CLIFailure.runtime("idem purge: \(error)")
        }
        await pool.close()
    }
}
