import ArgumentParser
import IdemConsumerKit
import IdemCore
import IdemRuntime
import IdemTerminal

/// What `idem dlq replay` and `idem dlq discard` share: open the audit and the dead
/// letters, take the selected ones with a progress line and a line per dead letter, then
/// the summary; exit 1 unless every one was taken.
enum DLQRun {
    /// Replays (or discards, by `replay.action`) the dead letters `options` and `replay` select.
    static func take(options: DLQOptions, replay: ReplayOptions) async throws {
        let command = "dlq \(replay.action.rawValue)"
        let (config, consumer) = try options.load()
        let logger = DLQOptions.logger(config)
        let (connection, audit) = try await DLQOptions.connectAudit(config, command: command, logger: logger)
        let channel: any DeadLetterChannel
        do {
            channel = try await DLQOptions.openChannel(consumer, command: command, logger: logger)
        } catch {
            await connection.close()
            throw error
        }
        let replayer = DeadLetterReplayer(consumer: consumer, channel: channel, audit: audit, options: replay)
        let done = replay.action.done
        let verb = replay.action == .replay ? "replaying" : "discarding"
        let progress = TerminalProgress(replay.dryRun ? "checking" : verb, total: channel.count)
        let output = LineOutput(progressShown: TerminalProgress.standardErrorIsTerminal)
        var counts = (taken: 0, refused: 0)
        let summary: ReplaySummary
        do {
            summary = try await replayer.run { event in
                switch event {
                case .examined:
                    progress.advance(detail: "(\(counts.taken) \(done), \(counts.refused) refused)")
                    return
                case .replayed, .wouldReplay, .discarded, .wouldDiscard:
                    counts.taken += 1
                    output.out(event.message(consumer: consumer.name, deadLetters: channel.name))
                case .refused, .refusedInRun:
                    counts.refused += 1
                    output.error(event.message(consumer: consumer.name, deadLetters: channel.name))
                case .failed, .notFound:
                    output.error(event.message(consumer: consumer.name, deadLetters: channel.name))
                }
            }
        } catch {
            progress.finish()
            await channel.close()
            await connection.close()
            throw CLIFailure.runtime("idem \(command): \(consumer.name): stopped: \(error)")
        }
        progress.finish(detail: "(\(counts.taken) \(done), \(counts.refused) refused)")
        await channel.close()
        await connection.close()
        var line = "\(consumer.name): \(summary)"
        if summary.otherConsumers > 0 {
            line += " (\(summary.otherConsumers) dead letters of other consumers passed over)"
        }
        print(line)
        if !summary.succeeded { throw ExitCode(1) }
    }
}
