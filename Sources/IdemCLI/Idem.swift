import ArgumentParser
import Foundation
import IdemConsumerKit
import IdemPostgresStore
import IdemRuntime

/// `idem`: the command-line entry point.
struct Idem: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "idem",
        abstract:
            "An idempotent message-queue consumer worker for RabbitMQ and Kafka, deduplicating through PostgreSQL.",
        discussion: """
            Exit codes: 0 success, 1 runtime failure, 2 configuration or usage error.
            """,
        version: version,
        subcommands: [
            CheckConfig.self, Migrate.self, Run.self, DeriveID.self, Publish.self, Replay.self, DLQ.self, Purge.self,
            Stats.self, Ctl.self,
        ]
    )
}

/// The `idem` command line, for the `idem` executable and for programs that embed idem
/// with their own Swift handlers.
///
/// ```swift
/// import IdemCLI
///
/// var handlers = HandlerRegistry()
/// handlers.register("record-order", RecordOrder())
/// await IdemCommandLine.main(handlers: handlers)
/// ```
///
/// The program then takes the same subcommands, flags and configuration file as `idem`
/// (`run`, `check-config`, `migrate`, …), handles SIGTERM and SIGINT the same way, and runs
/// every consumer whose handler is `swift: NAME` with the handler registered as `NAME`.
public enum IdemCommandLine {
    /// Runs the command line with the process's arguments and exits with idem's exit codes
    /// (0 success, 1 runtime failure, 2 configuration or usage error).
    ///
    /// `brokers` are the broker adapters consumers may use (``BrokerRegistry/builtIn``:
    /// RabbitMQ and Kafka); a program may add its own, or leave one out.
    public static func main(
        handlers: HandlerRegistry = HandlerRegistry(), brokers: BrokerRegistry = .builtIn
    ) async -> Never {
        Registrations.install(handlers: handlers, brokers: brokers)
        do {
            var command = try Idem.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIFailure {
            FileHandle.standardError.write(Data((error.message + "\n").utf8))
            exit(error.exitCode)
        } catch {
            let code = Idem.exitCode(for: error)
            if code == .success {
                Idem.exit(withError: error)  // --help, --version
            }
            let message = Idem.fullMessage(for: error)
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            // Usage errors are exit 2, as the documentation promises; ExitCode errors keep
            // their own code.
            if error is ExitCode {
                exit(code.rawValue)
            }
            exit(code == .validationFailure ? 2 : 1)
        }
        exit(0)
    }
}
