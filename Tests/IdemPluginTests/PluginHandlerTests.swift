import Foundation
import IdemCore
import IdemPlugins
import Testing

@Suite("PluginHandler")
struct PluginHandlerTests {
    static let examples = [PluginFixtures.cExample, PluginFixtures.swiftExample]

    private func load(
        _ path: String, config: String = "{}", concurrency: Int = 4, timeout: Duration = .seconds(10)
    ) throws -> PluginHandler {
        try PluginHandler.load(
            path: path, config: config, concurrency: concurrency, timeout: timeout, consumer: "orders-consumer",
            logger: PluginFixtures.logger)
    }

    /// The error `load` throws, as a `PluginError`.
    private func loadError(_ path: String, config: String = "{}") -> PluginError? {
        do {
            let handler = try load(path, config: config)
            Issue.record("loading \(path) succeeded")
            _ = handler
            return nil
        } catch let error as PluginError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test("each example handles many concurrent messages, each ID appended once", arguments: examples)
    func manyConcurrentMessages(library: String) async throws {
        let path = try PluginFixtures.exampleLibrary(library)
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let out = directory.appendingPathComponent("ids.txt")
        let handler = try load(path, config: #"{"out": \#(PluginFixtures.json(out.path))}"#, concurrency: 4)
        let count = 2000
        let results = await withTaskGroup(of: HandlerResult.self, returning: [HandlerResult].self) { group in
            for index in 0..<count {
                group.addTask {
                    let (message, context) = PluginFixtures.message(
                        #"{"order": \#(index)}"#, id: "order-\(index)", offset: Int64(index))
                    return await handler.handle(message, context: context)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == count)
        #expect(results.allSatisfy { $0 == .success })
        #expect(await handler.close())
        let lines = try PluginFixtures.lines(of: out)
        #expect(lines.count == count)
        #expect(Set(lines) == Set((0..<count).map { "order-\($0)" }))
    }

    @Test("a body with the reject marker is rejected with the plugin's reason", arguments: examples)
    func reject(library: String) async throws {
        let path = try PluginFixtures.exampleLibrary(library)
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let out = directory.appendingPathComponent("ids.txt")
        let handler = try load(path, config: #"{"out": \#(PluginFixtures.json(out.path))}"#)
        let (rejected, rejectedContext) = PluginFixtures.message(#"{"order": 1, "reject": true}"#, id: "a")
        #expect(
            await handler.handle(rejected, context: rejectedContext)
                == .reject(#"rejected by the example plugin: body contains "reject": true"#))
        let (retried, retriedContext) = PluginFixtures.message(#"{"order": 2, "retry": true}"#, id: "b")
        #expect(
            await handler.handle(retried, context: retriedContext)
                == .retry(#"retry requested by the example plugin: body contains "retry": true"#))
        let (accepted, acceptedContext) = PluginFixtures.message(#"{"order": 3}"#, id: "c")
        #expect(await handler.handle(accepted, context: acceptedContext) == .success)
        #expect(await handler.close())
        #expect(try PluginFixtures.lines(of: out) == ["c"])
    }

    @Test("the reject marker is configurable", arguments: examples)
    func configuredMarker(library: String) async throws {
        let handler = try load(try PluginFixtures.exampleLibrary(library), config: #"{"reject_marker": "POISON"}"#)
        let (message, context) = PluginFixtures.message("a POISON pill", id: "p")
        #expect(
            await handler.handle(message, context: context)
                == .reject("rejected by the example plugin: body contains POISON"))
        await handler.close()
    }

    @Test("the message's fields reach the plugin, on a plugin thread")
    func messageFields() async throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let handler = try load(try await PluginFixtures.compileProbe(named: "probe", in: directory))
        let (message, context) = PluginFixtures.message(
            "hello", id: "order-7",
            headers: [
                "b-text": .string("v"), "a-bytes": .bytes(Array("AB".utf8)), "c-int": .int(42), "d-table": .table([:]),
                "e-empty": .string(""),
            ],
            key: Array("K".utf8), offset: 99)
        #expect(
            await handler.handle(message, context: context)
                == .reject(
                    "consumer=orders-consumer id=order-7 fence=42 attempt=2 source=orders:3:99 body=hello body_null=0 "
                        + "key=K headers=a-bytes=AB,b-text=v,c-int=42,d-table=(null),e-empty= thread=idem-plugin-1"
                        + " traceparent=(null) tracestate=(null)"))
        let (empty, emptyContext) = PluginFixtures.message("", id: "e")
        // Any of the plugin's threads may take the second call (the first may not have
        // marked itself idle yet).
        guard case .reject(let reason) = await handler.handle(empty, context: emptyContext) else {
            Issue.record("expected the probe's reject")
            return
        }
        let expected =
            "consumer=orders-consumer id=e fence=42 attempt=2 source=orders:3:0 body= body_null=0 key=(null) headers= thread=idem-plugin-"
        #expect(reason.hasPrefix(expected), "\(reason)")
        let suffix = " traceparent=(null) tracestate=(null)"
        #expect(reason.hasSuffix(suffix), "\(reason)")
        #expect(
            ["1", "2", "3", "4"].contains(reason.dropFirst(expected.count).dropLast(suffix.count)), "\(reason)")
        await handler.close()
    }

    @Test("the W3C trace context reaches a version 2 plugin; a version 1 plugin still loads and handles")
    func traceContext() async throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let (message, context) = PluginFixtures.message(
            "hello", id: "t", headers: ["TraceParent": .string(parent), "tracestate": .string("congo=t61rcWkgMzE")])
        let current = try load(try await PluginFixtures.compileProbe(named: "probe2", in: directory))
        guard case .reject(let reason) = await current.handle(message, context: context) else {
            Issue.record("expected the probe's reject")
            return
        }
        #expect(reason.hasSuffix(" traceparent=\(parent) tracestate=congo=t61rcWkgMzE"), "\(reason)")
        await current.close()
        let old = try load(
            try await PluginFixtures.compileProbe(named: "probe1", in: directory, definitions: ["PROBE_ABI=1"]))
        guard case .reject(let oldReason) = await old.handle(message, context: context) else {
            Issue.record("expected the version 1 probe's reject")
            return
        }
        #expect(oldReason.contains("id=t"), "\(oldReason)")
        #expect(!oldReason.contains("traceparent=0"), "a version 1 plugin reads no trace fields")
        await old.close()
    }

    @Test("result codes map to results; an unknown code is a retry")
    func resultCodes() async throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let handler = try load(try await PluginFixtures.compileProbe(named: "probe", in: directory))
        for (body, expected) in [
            ("code:0", HandlerResult.success), ("code:1", .retry("probe reason")), ("code:2", .reject("probe reason")),
            ("code:7", .retry("the plugin returned the unknown result code 7: probe reason")),
        ] {
            let (message, context) = PluginFixtures.message(body, id: body)
            #expect(await handler.handle(message, context: context) == expected)
        }
        await handler.close()
    }

    @Test("close calls idem_plugin_close; later calls are retried")
    func closeClosesThePlugin() async throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let marker = directory.appendingPathComponent("closed")
        let path = try await PluginFixtures.compileProbe(named: "probe", in: directory)
        let handler = try load(path, config: #"{"closed": "\#(marker.path)"}"#)
        #expect(!FileManager.default.fileExists(atPath: marker.path))
        #expect(await handler.close())
        #expect(try String(contentsOf: marker, encoding: .utf8) == "closed")
        let (message, context) = PluginFixtures.message("code:0", id: "late")
        #expect(await handler.handle(message, context: context) == .retry("the plugin handler for \(path) is closed"))
        #expect(await handler.close() == false)
    }

    @Test("closing the Swift example leaves its metadata mapped: later type lookups do not crash")
    func swiftPluginStaysMapped() async throws {
        let handler = try load(try PluginFixtures.exampleLibrary(PluginFixtures.swiftExample))
        let (message, context) = PluginFixtures.message("{}", id: "x")
        #expect(await handler.handle(message, context: context) == .success)
        #expect(await handler.close())
        // A conformance lookup not cached yet scans every image's conformance records, the
        // plugin's included: with the library unmapped it would crash.
        #expect(ProbeValue() as Any as? any CustomDebugStringConvertible == nil)
    }

    @Test("a plugin built for another ABI version is refused, naming the path and both versions")
    func abiMismatch() async throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let path = try await PluginFixtures.compileProbe(named: "abi3", in: directory, definitions: ["PROBE_ABI=3"])
        let error = loadError(path)
        #expect(error == .abiMismatch(path: path, pluginVersion: 3, supportedVersion: 2))
        #expect(error?.description == "cannot load plugin \(path): plugin ABI version 3, idem supports versions 1 to 2")
    }

    @Test("a missing file is named")
    func missingFile() throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let path = directory.appendingPathComponent("libmissing.so").path
        let error = loadError(path)
        #expect(error == .fileNotFound(path: path))
        #expect(error?.description == "cannot load plugin \(path): no such file")
    }

    @Test("a file that is not a library: the dlopen error is shown")
    func notALibrary() throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let path = directory.appendingPathComponent("libtext.so").path
        try "not a library".write(toFile: path, atomically: true, encoding: .utf8)
        let error = loadError(path)
        guard case .loadFailed(path, let reason) = error else {
            Issue.record("expected loadFailed, got \(String(describing: error))")
            return
        }
        #expect(!reason.isEmpty)
        #expect(error?.description == "cannot load plugin \(path): dlopen failed: \(reason)")
    }

    @Test("a library without idem_plugin_handle is refused, naming the path and the symbol")
    func missingSymbol() async throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let path = try await PluginFixtures.compileProbe(
            named: "nohandle", in: directory, definitions: ["PROBE_NO_HANDLE"])
        let error = loadError(path)
        #expect(error == .missingSymbol(path: path, symbol: "idem_plugin_handle"))
        #expect(
            error?.description.hasPrefix(
                "cannot load plugin \(path): the library does not export idem_plugin_handle") == true)
    }

    @Test("an init failure carries the plugin's reason", arguments: examples)
    func initFailure(library: String) throws {
        let path = try PluginFixtures.exampleLibrary(library)
        let out = "/nonexistent-idem-directory/ids.txt"
        let error = loadError(path, config: #"{"out": "\#(out)"}"#)
        let reason = "cannot open the out file \(out): No such file or directory"
        #expect(error == .initFailed(path: path, code: 1, reason: reason))
        #expect(error?.description == "cannot load plugin \(path): idem_plugin_init failed: \(reason)")
    }

    @Test("an init failure of the probe: the code and the reason")
    func probeInitFailure() async throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let path = try await PluginFixtures.compileProbe(named: "probe", in: directory)
        let error = loadError(path, config: #"{"fail": true}"#)
        #expect(error == .initFailed(path: path, code: 3, reason: #"probe init refused: {"fail": true}"#))
    }

    @Test("settings out of range are refused")
    func invalidSettings() throws {
        let path = try PluginFixtures.exampleLibrary(PluginFixtures.cExample)
        #expect(
            throws: PluginError.invalidSetting(path: path, reason: "concurrency must be between 1 and 1024 (got 0)")
        ) {
            try load(path, concurrency: 0)
        }
        #expect(throws: PluginError.invalidSetting(path: path, reason: "timeout must be positive (got 0.0 seconds)")) {
            try load(path, timeout: .zero)
        }
    }

    @Test("a call that outlives its timeout is retried; the other threads go on")
    func timeout() async throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let started = directory.appendingPathComponent("started")
        let finished = directory.appendingPathComponent("finished")
        let handler = try load(
            try await PluginFixtures.compileProbe(named: "sleeper", in: directory),
            config: #"{"started": "\#(started.path)", "finished": "\#(finished.path)"}"#, concurrency: 2,
            timeout: .milliseconds(300))
        // Far longer than the timeout, so that a loaded machine cannot blur the two.
        let (slowMessage, slowContext) = PluginFixtures.message("sleep:6000", id: "slow")
        async let slow = handler.handle(slowMessage, context: slowContext)
        // The sleeper holds one thread; the other one handles these meanwhile.
        try await PluginFixtures.waitForFile(started)
        for index in 0..<20 {
            let (message, context) = PluginFixtures.message("code:0", id: "fast-\(index)")
            #expect(await handler.handle(message, context: context) == .success)
        }
        #expect(await slow == .retry("plugin handler timed out after 300 ms"))
        #expect(
            !FileManager.default.fileExists(atPath: finished.path),
            "the timeout answered without waiting for the plugin to return")
        let (message, context) = PluginFixtures.message("code:0", id: "after")
        #expect(await handler.handle(message, context: context) == .success)
        // close waits for the sleeping call to return.
        #expect(await handler.close())
        #expect(FileManager.default.fileExists(atPath: finished.path))
    }

    @Test("a call waiting for a free thread times out too; close gives up after its limit")
    func timeoutWhileQueued() async throws {
        let directory = try PluginFixtures.temporaryDirectory()
        defer { PluginFixtures.remove(directory) }
        let started = directory.appendingPathComponent("started")
        let handler = try load(
            try await PluginFixtures.compileProbe(named: "sleeper", in: directory),
            config: #"{"started": "\#(started.path)"}"#,
            concurrency: 1, timeout: .milliseconds(200))
        let (slowMessage, slowContext) = PluginFixtures.message("sleep:6000", id: "slow")
        async let slow = handler.handle(slowMessage, context: slowContext)
        // Once the slow call holds the only thread, the next call has to wait for it.
        try await PluginFixtures.waitForFile(started)
        let (message, context) = PluginFixtures.message("code:0", id: "queued")
        #expect(
            await handler.handle(message, context: context)
                == .retry("plugin handler timed out after 200 ms waiting for a free plugin thread (all 1 busy)"))
        #expect(await slow == .retry("plugin handler timed out after 200 ms"))
        #expect(await handler.close(waitingAtMost: .milliseconds(50)) == false)
    }
}

/// A type no other test casts, so that its conformance lookup is not cached.
private struct ProbeValue {}
