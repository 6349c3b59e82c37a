import Foundation
import IdemCore
import IdemExec
import Logging

/// Test scaffolding: scripts in a temporary directory, messages, contexts, and handlers
/// that are always shut down.
struct ExecFixture: Sendable {
    /// A scratch directory, removed by ``cleanUp()``.
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "idem-exec-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Removes the scratch directory.
    func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A path inside the scratch directory.
    func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// Writes `text` to `name` in the scratch directory (executable) and returns its path.
    func script(_ name: String, _ text: String) throws -> String {
        let path = path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    /// The repository's `Examples/exec` directory.
    static var examples: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Examples/exec")
    }

    /// The Python example handler.
    static var pythonExample: String { examples.appendingPathComponent("handler.py").path }

    /// The bash example handler.
    static var shellExample: String { examples.appendingPathComponent("handler.sh").path }

    /// A Kafka message with `body`.
    static func message(_ body: [UInt8], headers: [String: HeaderValue] = [:], key: [UInt8]? = nil, offset: Int64 = 0)
        -> Message
    {
        Message(
            body: body, headers: headers, key: key,
            source: MessageSource(
                kind: "kafka", position: LogPosition(stream: "orders", lane: 3, offset: offset), features: .recordKey))
    }

    /// A Kafka message with a UTF-8 `body`.
    static func message(_ body: String, offset: Int64 = 0) -> Message {
        message(Array(body.utf8), offset: offset)
    }

    /// A context for message `id` of consumer `billing`.
    static func context(_ id: String, fence: Int64 = 7, attempt: Int = 1) -> HandlerContext {
        HandlerContext(
            consumer: "billing", id: MessageID(id, source: .offset), fence: fence, attempt: attempt, transaction: nil)
    }

    /// A logger that prints errors only (restarts are expected in these tests).
    static var quietLogger: Logger {
        var logger = Logger(label: "idem.exec.test")
        logger.logLevel = .error
        return logger
    }

    /// Runs `body` with a started handler, and shuts the handler down afterwards whatever
    /// happens.
    static func withHandler<T: Sendable>(
        _ command: [String], processes: Int = 1, inFlight: Int = 16, environment: [String: String] = [:],
        timeout: Duration = .seconds(20), logger: Logger = quietLogger,
        _ body: (ExecHandler) async throws -> T
    ) async throws -> T {
        let handler = ExecHandler(
            command: command, processes: processes, inFlight: inFlight, environment: environment, timeout: timeout,
            consumer: "billing", logger: logger)
        try await handler.start()
        do {
            let result = try await body(handler)
            await handler.shutdown()
            return result
        } catch {
            await handler.shutdown()
            throw error
        }
    }

    /// Handles `count` messages concurrently; message `i` has ID `prefix-i` and body
    /// `body(i)`. Returns the results by ID.
    static func handleConcurrently(
        _ handler: ExecHandler, count: Int, prefix: String = "m",
        body: @escaping @Sendable (Int) -> String = { _ in "{}" }
    ) async -> [String: HandlerResult] {
        await withTaskGroup(of: (String, HandlerResult).self) { group in
            for index in 0..<count {
                group.addTask {
                    let id = "\(prefix)-\(index)"
                    let result = await handler.handle(
                        message(body(index), offset: Int64(index)), context: context(id))
                    return (id, result)
                }
            }
            var results: [String: HandlerResult] = [:]
            for await (id, result) in group { results[id] = result }
            return results
        }
    }

    /// Polls `condition` every 20 ms until it holds or `limit` passes.
    static func waitUntil(_ limit: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// Whether process `pid` still exists (zombies included).
    static func processExists(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
