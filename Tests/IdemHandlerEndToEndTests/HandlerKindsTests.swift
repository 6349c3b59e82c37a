import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// Each handler kind run by `idem run` (or by a program embedding idem) against the real
/// RabbitMQ and PostgreSQL: a stream with duplicates has each effect once; failures are
/// retried and dead-lettered with the handler's reason; a broken handler stops the worker
/// at startup with a clear error.
@Suite("Handler kinds, end to end", .serialized)
struct HandlerKindsTests {
    /// 100 distinct orders, each published three times, shuffled.
    static func orders(_ count: Int = 100) -> [(body: String, messageId: String?, headers: AMQPTable)] {
        var messages: [(body: String, messageId: String?, headers: AMQPTable)] = []
        for _ in 0..<3 {
            for n in 0..<count {
                messages.append((#"{"order": \#(n), "amount": \#(n + 1)}"#, "m-\(n)", AMQPTable()))
            }
        }
        return messages.shuffled()
    }

    /// The lines of a file the handlers append message IDs to.
    static func lines(_ file: URL) -> [String] {
        ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// An exec handler in Python that appends each message ID to `$OUT` and answers ok,
    /// after `misbehaving` (Python lines run first for each request) had its say.
    static func pythonHandler(misbehaving: String) throws -> URL {
        let loopLines = misbehaving.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        return try IdemProcess.temporaryFile(
            """
            import json, os, sys, time
            out = open(os.environ["OUT"], "a")
            for line in sys.stdin:
                request = json.loads(line)
            \(loopLines)
                out.write(request["id"] + "\\n")
                out.flush()
                sys.stdout.write(json.dumps({"id": request["id"], "result": "ok"}) + "\\n")
                sys.stdout.flush()
            """, suffix: ".py")
    }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    @Test func anEmbeddedSwiftHandlerWritesInTheDedupTransactionOnce() async throws {
        let world = try await AMQPWorld.make()
        try await world.sql(
            "CREATE TABLE IF NOT EXISTS embedded_orders (id text NOT NULL, amount numeric, attempt integer)")
        try await world.sql("DELETE FROM embedded_orders")
        let config = try world.config(handler: "{swift: record-order}")
        try await world.migrate(config)
        try await world.publish(Self.orders() + [("not an order", "bad", AMQPTable())])
        let binary = IdemProcess.builtProduct("idem-embedded-example")
        let check = try await IdemProcess.offPool {
            let process = Process()
            process.executableURL = binary
            process.arguments = ["check-config", config.path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(check == 0, "the embedding program knows its handler")
        let worker = try WorkerProcess(config: config, binary: binary)
        try await worker.waitUntilConsuming()
        try await world.eventually(30, "100 orders and a dead letter") {
            let rows = try await world.sql("SELECT count(*) FROM embedded_orders").rows[0][0]
            let dead = try await world.queueDepth(world.deadLetterQueue)
            return rows == "100" && dead == 1
        }
        try await Task.sleep(for: .milliseconds(500))
        let counts = try await world.sql("SELECT count(*), count(DISTINCT id) FROM embedded_orders").rows[0]
        #expect(counts == ["100", "100"], "\(worker.logText)")
        let dead = try await world.drainDeadLetters()
        #expect(dead.first?.properties.headers["x-idem-last-error"] == .utf8("the order has no numeric amount"))
        #expect(try await worker.stop() == 0)
        try await world.sql("DROP TABLE embedded_orders")
        try await world.cleanUp()
    }

    @Test func theIdemBinaryRefusesASwiftHandlerItDoesNotHave() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config(handler: "{swift: record-order}")
        let outcome = try await IdemProcess.run(["check-config", config.path])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("handler: swift: no Swift handler named 'record-order' is registered"))
        try await world.cleanUp()
    }

    @Test func anExecHandlerInPythonHasEachEffectOnce() async throws {
        let world = try await AMQPWorld.make()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("idem-exec-\(world.name).out")
        defer { try? FileManager.default.removeItem(at: out) }
        let script = Self.repository.appendingPathComponent("Examples/exec/handler.py").path
        let config = try world.config(
            handler:
                "{exec: [python3, \"\(script)\"], processes: 2, in_flight: 32, env: {IDEM_EXAMPLE_OUT: \"\(out.path)\"}}"
        )
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.publish(Self.orders())
        try await world.eventually(30, "100 IDs handled") {
            let depth = try await world.queueDepth()
            return Self.lines(out).count >= 100 && depth == 0
        }
        try await Task.sleep(for: .milliseconds(500))
        let ids = Self.lines(out)
        #expect(ids.count == 100, "\(worker.logText)")
        #expect(Set(ids) == Set((0..<100).map { "m-\($0)" }))
        #expect(try await world.sql("SELECT count(*) FROM \(world.table) WHERE status = 'done'").rows[0][0] == "100")
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func anExecHandlerThatCrashesOnOneMessageIsRestartedAndTheMessageDeadLettered() async throws {
        let world = try await AMQPWorld.make()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("idem-crash-\(world.name).out")
        let script = try Self.pythonHandler(
            misbehaving: """
                if "crash" in request["body"]:
                    sys.stderr.write("crashing on " + request["id"] + "\\n")
                    sys.exit(3)
                """)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: script)
        }
        let config = try world.config(
            retry: "{max_attempts: 3, initial_backoff: 100ms, max_backoff: 200ms}",
            handler: "{exec: [python3, \"\(script.path)\"], env: {OUT: \"\(out.path)\"}}")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.publish(
            (0..<50).map { (#"{"n": \#($0)}"#, "ok-\($0)", AMQPTable()) } + [(#"{"crash": true}"#, "boom", AMQPTable())]
        )
        var deadLetters: UInt32 = 0
        do {
            try await world.eventually(60, "the crashing message dead-lettered, and it alone") {
                deadLetters = try await world.queueDepth(world.deadLetterQueue)
                return deadLetters == 1
            }
        } catch {
            Issue.record("\(deadLetters) dead letters; handled \(Set(Self.lines(out)).count) of 50; \(worker.logText)")
            throw error
        }
        try await world.eventually(30, "the others handled") { Set(Self.lines(out)).count == 50 }
        let dead = try await world.drainDeadLetters()
        let headers = dead.first?.properties.headers
        #expect(headers?["x-idem-attempts"] == .i64(3), "\(worker.logText)")
        guard case .utf8(let lastError)? = headers?["x-idem-last-error"] else {
            Issue.record("no last error")
            return
        }
        #expect(lastError.contains("exited with status 3"))
        #expect(worker.logText.contains("crashing on boom"), "the child's stderr reaches the log")
        #expect(Set(Self.lines(out)) == Set((0..<50).map { "ok-\($0)" }))
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func anExecCommandThatDoesNotExistStopsTheWorkerAtStartup() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config(handler: "{exec: [/nonexistent/handler, --flag]}")
        let check = try await IdemProcess.run(["check-config", config.path])
        #expect(check.status == 2)
        #expect(check.stderr.contains("handler: exec:"), "\(check.stderr)")
        #expect(check.stderr.contains("/nonexistent/handler"))
        let run = try await IdemProcess.run(["run", "--config", config.path])
        #expect(run.status == 2)
        #expect(run.stderr.contains("/nonexistent/handler"), "\(run.stderr)")
        try await world.cleanUp()
    }

    @Test func anExecHandlerThatHangsTimesOutAndIsReplaced() async throws {
        let world = try await AMQPWorld.make()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("idem-hang-\(world.name).out")
        let script = try Self.pythonHandler(
            misbehaving: """
                if "hang" in request["body"]:
                    time.sleep(3600)
                """)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: script)
        }
        let config = try world.config(
            retry: "{max_attempts: 2, initial_backoff: 100ms, max_backoff: 200ms}",
            handler: "{exec: [python3, \"\(script.path)\"], env: {OUT: \"\(out.path)\"}, timeout: 1s}")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.publish([(#"{"hang": true}"#, "stuck", AMQPTable())])
        try await world.eventually(60, "the hanging message dead-lettered") {
            try await world.queueDepth(world.deadLetterQueue) == 1
        }
        try await world.publish((0..<20).map { (#"{"n": \#($0)}"#, "after-\($0)", AMQPTable()) })
        try await world.eventually(30, "later messages handled by the replacement") { Set(Self.lines(out)).count == 20 }
        let dead = try await world.drainDeadLetters()
        guard case .utf8(let lastError)? = dead.first?.properties.headers["x-idem-last-error"] else {
            Issue.record("no last error: \(worker.logText)")
            return
        }
        #expect(lastError.contains("timed out after 1"), "\(lastError)")
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test(arguments: ["libIdemExamplePluginC.so", "libIdemExamplePluginSwift.so"])
    func aPluginHasEachEffectOnceAndItsRejectsAreDeadLetteredWithItsReason(library: String) async throws {
        let world = try await AMQPWorld.make()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("idem-plugin-\(world.name).out")
        defer { try? FileManager.default.removeItem(at: out) }
        let plugin = IdemProcess.builtProduct(library).path
        let config = try world.config(
            handler: "{plugin: \"\(plugin)\", config: {out: \"\(out.path)\"}, concurrency: 4}")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.publish(Self.orders() + [(#"{"order": -1, "reject": true}"#, "refused", AMQPTable())])
        try await world.eventually(30, "100 IDs and a dead letter") {
            let dead = try await world.queueDepth(world.deadLetterQueue)
            return Set(Self.lines(out)).count >= 100 && dead == 1
        }
        try await Task.sleep(for: .milliseconds(500))
        let ids = Self.lines(out).filter { $0 != "refused" }
        #expect(ids.count == 100, "\(worker.logText)")
        #expect(Set(ids) == Set((0..<100).map { "m-\($0)" }))
        let dead = try await world.drainDeadLetters()
        #expect(dead.first?.properties.headers["x-idem-reason"] == .utf8("rejected"))
        guard case .utf8(let lastError)? = dead.first?.properties.headers["x-idem-last-error"] else {
            Issue.record("no last error")
            return
        }
        #expect(lastError.contains("rejected by the example plugin"), "\(lastError)")
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func aPluginBuiltForAnotherABIStopsTheWorkerAtStartup() async throws {
        let world = try await AMQPWorld.make()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("idem-abi-\(world.name)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("future.c")
        try """
        #include <stdint.h>
        #include <stddef.h>
        uint32_t idem_plugin_abi_version(void) { return 3; }
        int idem_plugin_init(const char *c, void **s, char *e, size_t n) { return 0; }
        int idem_plugin_handle(void *s, const void *m, char *e, size_t n) { return 0; }
        void idem_plugin_close(void *s) {}
        """.write(to: source, atomically: true, encoding: .utf8)
        let library = directory.appendingPathComponent("libfuture.so")
        let compiled = try await IdemProcess.offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
            process.arguments = ["-shared", "-fPIC", "-o", library.path, source.path]
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        try #require(compiled == 0)
        let config = try world.config(handler: "{plugin: \"\(library.path)\"}")
        let expected = "cannot load plugin \(library.path): plugin ABI version 3, idem supports versions 1 to 2"
        let check = try await IdemProcess.run(["check-config", config.path])
        #expect(check.status == 2)
        #expect(check.stderr.contains(expected), "\(check.stderr)")
        let run = try await IdemProcess.run(["run", "--config", config.path])
        #expect(run.status == 2)
        #expect(run.stderr.contains(expected), "\(run.stderr)")
        try await world.cleanUp()
    }
}
