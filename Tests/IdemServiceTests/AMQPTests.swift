import Foundation
import IdemAMQP
import IdemTestSupport
import Logging

/// Shared helpers of the RabbitMQ client tests.
enum AMQPTests {
    static let logger = makeTestLogger("idem.tests.amqp")

    /// A name no other test (or test run) uses.
    static func uniqueName(_ prefix: String) -> String {
        "idem-test-\(prefix)-\(UUID().uuidString.lowercased().prefix(12))"
    }

    /// A connection to the test broker.
    static func connect(
        name: String = "idem-amqp-test", heartbeat: Duration = .seconds(60),
        rpcTimeout: Duration? = .seconds(30)
    ) async throws -> AMQPConnection {
        try await AMQPConnection.connect(
            url: try ServiceEnvironment.amqpURL(), connectionName: name, heartbeat: heartbeat,
            rpcTimeout: rpcTimeout, logger: logger)
    }

    /// Polls until `count` deliveries arrived or `timeout` passed.
    static func collect(
        _ connection: AMQPConnection, count: Int, timeout: Duration = .seconds(10)
    ) async throws -> [AMQPDelivery] {
        var deliveries: [AMQPDelivery] = []
        let deadline = ContinuousClock.now + timeout
        while deliveries.count < count, ContinuousClock.now < deadline {
            deliveries += try await connection.nextDeliveries(
                maxCount: count - deliveries.count, timeout: .milliseconds(100))
        }
        return deliveries
    }

    /// Polls until the queue holds `count` ready messages (publishing is asynchronous).
    static func waitForReady(
        _ connection: AMQPConnection, queue: String, count: UInt32, timeout: Duration = .seconds(10)
    ) async throws -> UInt32 {
        let deadline = ContinuousClock.now + timeout
        var ready = try await connection.inspectQueue(queue).messageCount
        while ready != count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            ready = try await connection.inspectQueue(queue).messageCount
        }
        return ready
    }

    /// The repository root, found from this file's path.
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// Runs `scripts/services.sh rabbitmqctl ARGUMENTS…` (the test node, as configured by
    /// the `IDEM_*` environment) and returns its standard output.
    static func rabbitmqctl(_ arguments: [String]) async throws -> String {
        let script = repositoryRoot.appendingPathComponent("scripts/services.sh").path
        let outcome = try await run("/bin/bash", [script, "rabbitmqctl"] + arguments)
        guard outcome.status == 0 else {
            throw ToolFailure(description: "rabbitmqctl \(arguments) failed: \(outcome.output)")
        }
        return outcome.output
    }

    /// The Erlang process ID of the broker's connection named `name`.
    static func connectionPid(named name: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            // RabbitMQ 3.10 has no user_provided_name column: look in the client properties.
            let listing = try await rabbitmqctl([
                "list_connections", "-q", "--no-table-headers", "pid", "client_properties",
            ])
            for line in listing.split(whereSeparator: \.isNewline) where line.contains("\"\(name)\"") {
                if let pid = line.split(separator: "\t").first { return String(pid) }
            }
            guard ContinuousClock.now < deadline else {
                throw ToolFailure(description: "no connection named \(name) in: \(listing)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// A failed helper tool.
    struct ToolFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs a program to completion off the cooperative pool; returns its exit status and
    /// its standard output and error, merged.
    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await IdemProcess.offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }
}
