import Foundation
import IdemAMQP
import IdemPostgres
import Logging
import Testing

/// One end-to-end scenario's world: its own queue, dedup table and effects table on the
/// test RabbitMQ and PostgreSQL, and `idem run` worker processes consuming from it.
public struct AMQPWorld {
    public let postgresURL: String
    public let amqpURL: String
    public let name: String
    public let logger = makeTestLogger("idem-amqp-e2e")

    public var queue: String { "q_\(name)" }
    public var deadLetterQueue: String { "q_\(name).dlq" }
    /// The dead-letter exchange a test may configure (see ``config(id:sql:params:retry:batch:concurrency:prefetch:deadLetterExchange:)``).
    public var deadLetterExchange: String { "x_\(name).dlx" }
    public var table: String { "pm_\(name)" }
    public var effects: String { "effects_\(name)" }

    /// A world with its queue declared with `queueArguments` (classic by default) and,
    /// unless `deadLetterQueue` is false, its dead-letter queue.
    public static func make(
        queueArguments: AMQPTable = AMQPTable(), deadLetterQueue: Bool = true
    ) async throws -> AMQPWorld {
        let world = AMQPWorld(
            postgresURL: try ServiceEnvironment.postgresURL(), amqpURL: try ServiceEnvironment.amqpURL(),
            name: UUID().uuidString.prefix(10).lowercased().replacingOccurrences(of: "-", with: ""))
        try await world.sql("CREATE TABLE \(world.effects) (id text NOT NULL, body text)")
        let connection = try await world.amqp()
        _ = try await connection.declareQueue(
            name: world.queue, durable: true, exclusive: false, autoDelete: false, arguments: queueArguments)
        if deadLetterQueue {
            _ = try await connection.declareQueue(
                name: world.deadLetterQueue, durable: true, exclusive: false, autoDelete: false,
                arguments: AMQPTable())
        }
        await connection.close()
        return world
    }

    public func amqp() async throws -> AMQPConnection {
        try await AMQPConnection.connect(url: amqpURL, logger: logger)
    }

    @discardableResult
    public func sql(_ statement: String, _ parameters: [String?] = []) async throws -> PostgresRows {
        let connection = try await PostgresConnection.connect(url: postgresURL, logger: logger)
        defer { Task { await connection.close() } }
        return try await connection.query(statement, parameters, prepared: false)
    }

    /// A worker configuration for this world; `extra` is added at the top level (e.g. an
    /// `admin:` section), `sourceExtra` to the `amqp:` source (e.g. `queue_type: quorum`).
    public func config(
        id: String = "[message_id]", sql: String? = nil, params: String = "[id, body]", retry: String = "{}",
        batch: String = "{size: 50, max_wait: 20ms}", concurrency: Int = 4, prefetch: Int = 100,
        deadLetterExchange: String? = nil, handler: String? = nil, dedup: String = "{}", extra: String = "",
        declare: Bool = true, sourceExtra: String = ""
    ) throws -> URL {
        let statement = sql ?? "INSERT INTO \(effects)(id, body) VALUES ($1, $2)"
        let handlerBlock = handler ?? "{sql: \"\(statement)\", params: \(params)}"
        return try IdemProcess.temporaryFile(
            """
            postgres:
              url: \(postgresURL)
              table: \(table)
            shutdown: {grace_period: 10s}
            logging: {level: info}
            metrics: {listen: "127.0.0.1:0"}
            \(extra)
            consumers:
              - name: \(name)
                source:
                  amqp:
                    url: \(amqpURL)
                    queue: \(queue)
                    prefetch: \(prefetch)
                    declare: \(declare)
                    dead_letter_exchange: "\(deadLetterExchange ?? "")"
                    \(sourceExtra)
                id: \(id)
                handler: \(handlerBlock)
                dedup: \(dedup)
                retry: \(retry)
                batch: \(batch)
                concurrency: \(concurrency)
            """)
    }

    public func migrate(_ config: URL) async throws {
        let outcome = try await IdemProcess.run(["migrate", "--config", config.path])
        try #require(outcome.status == 0, "idem migrate: \(outcome.stderr)")
    }

    /// Publishes `messages` (body, message-id, headers) to the work queue.
    public func publish(_ messages: [(body: String, messageId: String?, headers: AMQPTable)]) async throws {
        let connection = try await amqp()
        try await connection.confirmSelect()
        for message in messages {
            var properties = AMQPProperties()
            properties.messageId = message.messageId
            properties.headers = message.headers
            properties.deliveryMode = .persistent
            _ = try await connection.publish(
                exchange: "", routingKey: queue, body: Array(message.body.utf8), properties: properties,
                mandatory: false)
        }
        try await connection.waitForConfirms()
        await connection.close()
    }

    /// Effect rows, and distinct IDs among them.
    public func effectCounts() async throws -> (rows: Int, distinct: Int) {
        let row = try await sql("SELECT count(*), count(DISTINCT id) FROM \(effects)").rows[0]
        return (Int(row[0]!)!, Int(row[1]!)!)
    }

    /// Waits until `condition` holds, polling, for at most `seconds`.
    public func eventually(
        _ seconds: Double = 30, _ what: String, _ condition: () async throws -> Bool
    ) async throws {
        try await waitUntil(seconds, what, condition)
    }

    /// Every message in the dead-letter queue (taken off it).
    public func drainDeadLetters() async throws -> [AMQPDelivery] {
        let connection = try await amqp()
        var out: [AMQPDelivery] = []
        while let delivery = try await connection.get(queue: deadLetterQueue, autoAck: true) {
            out.append(delivery)
        }
        await connection.close()
        return out
    }

    /// The messages ready in `name` (the world's queue by default); 0 when it does not
    /// exist. Asked passively, so that a queue of any type can be read.
    public func queueDepth(_ name: String? = nil) async throws -> UInt32 {
        let connection = try await amqp()
        var depth: UInt32 = 0
        var failure: AMQPError?
        do {
            depth = try await connection.inspectQueue(name ?? queue).messageCount
        } catch {
            if error.replyCode != 404 { failure = error }
        }
        await connection.close()
        if let failure { throw failure }
        return depth
    }

    public func cleanUp() async throws {
        try await sql("DROP TABLE IF EXISTS \(effects)")
        try await sql("DROP TABLE IF EXISTS \(table)")
        try await sql("DROP TABLE IF EXISTS \(table)_offsets, \(table)_stats, \(table)_replays")
        _ = try? await sql("DELETE FROM idem_schema_versions WHERE table_name = $1", [table])
        let connection = try await amqp()
        for name in [queue, deadLetterQueue] {
            _ = try? await connection.deleteQueue(name, ifUnused: false, ifEmpty: false)
        }
        try? await connection.deleteExchange(deadLetterExchange)
        await connection.close()
    }
}

/// A scenario that did not happen in time.
public enum WorldError: Error {
    case timeout(String)
}

/// A running `idem run` process whose log goes to a file.
public final class WorkerProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is only touched from the test's own task.
    public let process = Process()
    /// The worker's log file.
    public let log: URL

    /// Starts `binary run --config config` (the `idem` binary unless another is given, such
    /// as a program embedding idem), with `environment` added to the test's own.
    public init(config: URL, binary: URL = IdemProcess.binary, environment: [String: String] = [:]) throws {
        log = FileManager.default.temporaryDirectory.appendingPathComponent("idem-worker-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = binary
        process.arguments = ["run", "--config", config.path]
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Waits until the worker logs that it consumes.
    public func waitUntilConsuming(_ seconds: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !logText.contains("consuming") {
            guard process.isRunning, Date() < deadline else {
                throw WorldError.timeout("worker start: \(logText)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Sends `signal` and waits for the exit status.
    public func stop(_ signal: Int32 = SIGTERM, within seconds: Double = 20) async throws -> Int32 {
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else { throw WorldError.timeout("worker exit after signal \(signal)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
