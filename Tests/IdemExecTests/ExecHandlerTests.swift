import Foundation
import IdemCore
import IdemExec
import IdemLogCapture
import Logging
import Testing

@Suite("ExecHandler", .serialized)
struct ExecHandlerTests {
    @Test func manyConcurrentMessagesThroughThePythonExample() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let out = fixture.path("ids.txt")
        let count = 2000
        let results = try await ExecFixture.withHandler(
            ["python3", ExecFixture.pythonExample], processes: 2, inFlight: 64,
            environment: ["IDEM_EXAMPLE_OUT": out]
        ) { handler in
            await ExecFixture.handleConcurrently(handler, count: count)
        }
        #expect(results.count == count)
        #expect(results.values.allSatisfy { $0 == .success })
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == count)
        #expect(Set(lines) == Set((0..<count).map { "m-\($0)" }))
    }

    @Test func rejectAndRetryCarryTheHandlersReasons() async throws {
        try await ExecFixture.withHandler(["python3", ExecFixture.pythonExample]) { handler in
            let rejected = await handler.handle(
                ExecFixture.message(#"{"reject": true}"#), context: ExecFixture.context("r-1"))
            #expect(rejected == .reject("the message asked to be rejected"))
            let retried = await handler.handle(
                ExecFixture.message(#"{"retry": true}"#), context: ExecFixture.context("r-2"))
            #expect(retried == .retry("the message asked to be retried"))
            let plain = await handler.handle(ExecFixture.message("not json"), context: ExecFixture.context("r-3"))
            #expect(plain == .success)
        }
    }

    @Test func responsesAreMatchedByIDInAnyOrder() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let script = try fixture.script("reversing.py", ExecScripts.reversing)
        let results = try await ExecFixture.withHandler(["python3", script], inFlight: 4) { handler in
            await ExecFixture.handleConcurrently(handler, count: 8, prefix: "o")
        }
        #expect(results.count == 8)
        for (id, result) in results {
            #expect(result == .reject("answer to \(id)"))
        }
    }

    @Test func concurrentCallsWithTheSameIDAllGetAnAnswer() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let script = try fixture.script("reversing.py", ExecScripts.reversing)
        let results = try await ExecFixture.withHandler(["python3", script], inFlight: 4) { handler in
            await withTaskGroup(of: HandlerResult.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        await handler.handle(ExecFixture.message("{}"), context: ExecFixture.context("same"))
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(results == Array(repeating: .reject("answer to same"), count: 4))
    }

    @Test func aProcessThatCrashesIsRestartedAndItsMessageRetried() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let script = try fixture.script("scripted.py", ExecScripts.scripted)
        try await ExecFixture.withHandler(["python3", script]) { handler in
            let firstPID = await handler.handle(ExecFixture.message("pid"), context: ExecFixture.context("p-1"))
            let before = await ExecFixture.handleConcurrently(handler, count: 20, prefix: "a")
            #expect(before.values.allSatisfy { $0 == .success })

            let crashed = await handler.handle(ExecFixture.message("crash"), context: ExecFixture.context("poison"))
            guard case .retry(let reason) = crashed else {
                Issue.record("expected retry, got \(crashed)")
                return
            }
            #expect(reason.contains("exited with status 3"))

            let after = await ExecFixture.handleConcurrently(handler, count: 20, prefix: "b")
            #expect(after.values.allSatisfy { $0 == .success })
            let secondPID = await handler.handle(ExecFixture.message("pid"), context: ExecFixture.context("p-2"))
            #expect(firstPID != secondPID)

            let again = await handler.handle(
                ExecFixture.message("crash"), context: ExecFixture.context("poison", attempt: 2))
            guard case .retry(let secondReason) = again else {
                Issue.record("expected retry, got \(again)")
                return
            }
            #expect(secondReason.contains("exited with status 3"))
            let last = await handler.handle(ExecFixture.message("fine"), context: ExecFixture.context("c-1"))
            #expect(last == .success)
        }
    }

    @Test func aCrashWithOthersInFlightCostsAnAttemptToTheCrashingMessageOnly() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let script = try fixture.script("scripted.py", ExecScripts.scripted)
        try await ExecFixture.withHandler(["python3", script, "slow-start"]) { handler in
            // The process reads nothing for 300 ms: the poison goes first and five others
            // are in flight behind it when it exits.
            async let poison = handler.handle(ExecFixture.message("crash"), context: ExecFixture.context("poison"))
            try await Task.sleep(for: .milliseconds(50))
            let others = await ExecFixture.handleConcurrently(handler, count: 5, prefix: "o")
            let crashed = await poison
            #expect(others.count == 5)
            #expect(others.values.allSatisfy { $0 == .success }, "\(others)")
            guard case .retry(let reason) = crashed else {
                Issue.record("expected retry, got \(crashed)")
                return
            }
            #expect(reason.contains("exited with status 3"))
            let after = await ExecFixture.handleConcurrently(handler, count: 20, prefix: "a")
            #expect(after.values.allSatisfy { $0 == .success })
        }
    }

    @Test func aHungProcessTimesOutAndIsReplaced() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let script = try fixture.script("scripted.py", ExecScripts.scripted)
        try await ExecFixture.withHandler(["python3", script], timeout: .seconds(1)) { handler in
            let clock = ContinuousClock()
            let start = clock.now
            async let hung = handler.handle(ExecFixture.message("hang"), context: ExecFixture.context("h-1"))
            try await Task.sleep(for: .milliseconds(100))
            // Queued behind the hung request on the same process.
            let behind = await handler.handle(ExecFixture.message("fine"), context: ExecFixture.context("h-2"))
            let hungResult = await hung
            let elapsed = clock.now - start
            #expect(hungResult == .retry("exec handler timed out after 1 s"))
            #expect(behind == .success, "the request behind the hung one runs again on the replacement")
            #expect(elapsed >= .milliseconds(900))
            #expect(elapsed < .seconds(8))

            let later = await ExecFixture.handleConcurrently(handler, count: 10, prefix: "l")
            #expect(later.values.allSatisfy { $0 == .success })
        }
    }

    @Test func invalidOutputIsRetriedAndTheProcessRestarted() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let script = try fixture.script("scripted.py", ExecScripts.scripted)
        try await ExecFixture.withHandler(["python3", script]) { handler in
            let cases: [(body: String, expected: String)] = [
                ("garbage", "this is not json"),
                ("unknown-id", #"unknown id: "no-such-id""#),
                ("bad-result", #"unknown result "maybe""#),
            ]
            for (index, item) in cases.enumerated() {
                let result = await handler.handle(
                    ExecFixture.message(item.body), context: ExecFixture.context("g-\(index)"))
                guard case .retry(let reason) = result else {
                    Issue.record("expected retry for \(item.body), got \(result)")
                    continue
                }
                #expect(reason.contains("exec handler wrote an invalid line"))
                #expect(reason.contains(item.expected))
                let next = await handler.handle(ExecFixture.message("fine"), context: ExecFixture.context("n-\(index)"))
                #expect(next == .success)
            }
        }
    }

    @Test func bodiesAndHeadersThatAreNotTextArriveBase64Encoded() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let script = try fixture.script("scripted.py", ExecScripts.scripted)
        let body: [UInt8] = [0xFF, 0xFE, 0x41, 0x00]
        let headers: [String: HeaderValue] = [
            "echo": .string("yes"), "binary": .bytes([0x80, 0x81]), "count": .int(42),
            "text-bytes": .bytes(Array("hi".utf8)), "nested": .table(["a": .int(1)]),
        ]
        let message = ExecFixture.message(body, headers: headers, key: [0x01, 0xFF], offset: 12)
        let result = try await ExecFixture.withHandler(["python3", script]) { handler in
            await handler.handle(message, context: ExecFixture.context("bin-1", fence: 9, attempt: 2))
        }
        guard case .reject(let echoed) = result else {
            Issue.record("expected the echo, got \(result)")
            return
        }
        let request = try JSONValue(parsing: Array(echoed.utf8))
        #expect(request[member: "id"] == .string("bin-1"))
        #expect(request[member: "fence"] == .number("9"))
        #expect(request[member: "attempt"] == .number("2"))
        #expect(request[member: "source"] == .string("orders:3:12"))
        #expect(request[member: "consumer"] == .string("billing"))
        #expect(request[member: "body"] == .string(Data(body).base64EncodedString()))
        #expect(request[member: "body_base64"] == .bool(true))
        #expect(request[member: "key"] == .string(Data([0x01, 0xFF]).base64EncodedString()))
        #expect(request[member: "key_base64"] == .bool(true))
        #expect(
            request[member: "headers"]
                == .object([
                    ("binary", .string(Data([0x80, 0x81]).base64EncodedString())), ("count", .string("42")),
                    ("echo", .string("yes")), ("text-bytes", .string("hi")),
                ]))
        #expect(request[member: "headers_base64"] == .array([.string("binary")]))
    }

    @Test func aMissingCommandIsReportedByNameAndReason() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let missing = "idem-no-such-handler-program"
        let reason = ExecHandler.validate(command: [missing, "--flag"])
        #expect(reason?.contains(missing) == true)
        #expect(reason?.contains("not found in PATH") == true)

        let handler = ExecHandler(command: [missing, "--flag"], consumer: "billing", logger: ExecFixture.quietLogger)
        do {
            try await handler.start()
            Issue.record("start() should have thrown")
        } catch {
            #expect(error.description.contains(missing))
            #expect(error.description.contains("not found in PATH"))
        }
        let refused = await handler.handle(ExecFixture.message("x"), context: ExecFixture.context("x"))
        #expect(refused == .retry("exec handler is not started"))
        await handler.shutdown()

        #expect(ExecHandler.validate(command: ["/no/such/dir/handler"])?.contains("does not exist") == true)
        #expect(ExecHandler.validate(command: [fixture.directory.path])?.contains("is a directory") == true)
        let plain = fixture.path("plain.txt")
        try "not a program".write(toFile: plain, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: plain)
        #expect(ExecHandler.validate(command: [plain])?.contains("not executable") == true)
        #expect(ExecHandler.validate(command: []) != nil)
        #expect(ExecHandler.validate(command: ["python3"]) == nil)
        #expect(ExecHandler.validate(command: [ExecFixture.pythonExample]) == nil)
    }

    @Test func standardErrorLinesReachTheLogger() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let script = try fixture.script("scripted.py", ExecScripts.scripted)
        let logs = LogCapture()
        try await ExecFixture.withHandler(["python3", script], logger: logs.logger()) { handler in
            let pid = await handler.handle(ExecFixture.message("pid"), context: ExecFixture.context("s-0"))
            let result = await handler.handle(
                ExecFixture.message("stderr:hello from the handler"), context: ExecFixture.context("s-1"))
            #expect(result == .success)
            let found = await ExecFixture.waitUntil {
                logs.all.contains { $0.message == "hello from the handler" }
            }
            #expect(found)
            let record = logs.all.first { $0.message == "hello from the handler" }
            #expect(record?.level == .warning)
            #expect(record?.metadata["consumer"] == .string("billing"))
            guard case .retry(let pidText) = pid else {
                Issue.record("expected the pid, got \(pid)")
                return
            }
            #expect(record?.metadata["pid"].map { "\($0)" } == pidText)
        }
    }

    @Test func theEnvironmentIsTheWorkersPlusTheConfiguredOne() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let script = try fixture.script("scripted.py", ExecScripts.scripted)
        let result = try await ExecFixture.withHandler(
            ["python3", script], environment: ["IDEM_TEST_VAR": "configured"]
        ) { handler in
            await handler.handle(ExecFixture.message("env"), context: ExecFixture.context("e-1"))
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? ""
        #expect(result == .reject("configured|\(home)"))
    }

    @Test func theShellExampleAnswersEveryRequest() async throws {
        let results = try await ExecFixture.withHandler([ExecFixture.shellExample], inFlight: 8) { handler in
            var results = await ExecFixture.handleConcurrently(handler, count: 100, prefix: "sh")
            let odd = #"quote " and backslash \ and ünïcödé"#
            results[odd] = await handler.handle(ExecFixture.message("{}"), context: ExecFixture.context(odd))
            return results
        }
        #expect(results.count == 101)
        #expect(results.values.allSatisfy { $0 == .success })
    }

    @Test func callsWhileNoProcessRunsWaitAtMostTheTimeout() async throws {
        // The process exits at once, every time: restarts back off 100, 200, 400, 800 ms,
        // longer than the 300 ms a call may wait for one.
        let clock = ContinuousClock()
        let start = clock.now
        let results = try await ExecFixture.withHandler(
            ["/bin/sh", "-c", "exit 5"], timeout: .milliseconds(300)
        ) { handler in
            var results: [HandlerResult] = []
            for index in 0..<5 {
                results.append(
                    await handler.handle(ExecFixture.message("x"), context: ExecFixture.context("w-\(index)")))
            }
            return results
        }
        var waitedInVain = 0
        for result in results {
            guard case .retry(let reason) = result else {
                Issue.record("expected retry, got \(result)")
                continue
            }
            // Either the call reached a process that then exited, or it waited in vain.
            #expect(reason.contains("exited with status 5"))
            if reason.hasPrefix("no exec handler process came up within 300 ms") { waitedInVain += 1 }
        }
        #expect(waitedInVain >= 1)
        #expect(clock.now - start < .seconds(8))
    }

    @Test func shutdownLetsChildrenExitAndKillsThoseThatLinger() async throws {
        let fixture = try ExecFixture()
        defer { fixture.cleanUp() }
        let script = try fixture.script("scripted.py", ExecScripts.scripted)
        let clock = ContinuousClock()
        for linger in [false, true] {
            let handler = ExecHandler(
                command: ["python3", script] + (linger ? ["linger"] : []), consumer: "billing",
                logger: ExecFixture.quietLogger)
            try await handler.start()
            let pidResult = await handler.handle(ExecFixture.message("pid"), context: ExecFixture.context("d-1"))
            guard case .retry(let pidText) = pidResult, let pid = Int32(pidText) else {
                Issue.record("expected the pid, got \(pidResult)")
                await handler.shutdown()
                continue
            }
            let start = clock.now
            await handler.shutdown()
            let elapsed = clock.now - start
            #expect(!ExecFixture.processExists(pid))
            if linger {
                #expect(elapsed >= .milliseconds(1500))
                #expect(elapsed < .seconds(8))
            } else {
                #expect(elapsed < .milliseconds(1500))
            }
            let refused = await handler.handle(ExecFixture.message("x"), context: ExecFixture.context("d-2"))
            #expect(refused == .retry("exec handler is shutting down"))
        }
    }
}
