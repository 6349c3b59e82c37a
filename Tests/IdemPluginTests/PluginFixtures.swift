import Foundation
import IdemCore
import Logging

/// What the plugin tests share: the example libraries, plugins compiled at test time,
/// temporary directories and messages.
enum PluginFixtures {
    /// A fixture that could not be prepared.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The file names of the example plugins, dynamic library products of the package.
    static let cExample = "libIdemExamplePluginC.so"
    static let swiftExample = "libIdemExamplePluginSwift.so"

    static let logger = Logger(label: "idem.plugin-tests")

    /// The package's root directory.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directories where the build puts the example libraries: the test binary's
    /// directory (the bin path), or `IDEM_PLUGIN_DIR` when set.
    static var libraryDirectories: [String] {
        var directories: [String] = []
        if let directory = ProcessInfo.processInfo.environment["IDEM_PLUGIN_DIR"] { directories.append(directory) }
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: executable).deletingLastPathComponent().path)
        }
        directories.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path)
        return directories
    }

    /// The path of the example library `name`, or a failure that says how to build it.
    static func exampleLibrary(_ name: String) throws -> String {
        let directories = libraryDirectories
        for directory in directories {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw Failure(
            description: "\(name) not found in \(directories.joined(separator: ", ")): build the example plugins "
                + "(`swift build --build-tests` builds the dynamic library products), or set IDEM_PLUGIN_DIR")
    }

    /// A new empty directory; remove it with ``remove(_:)``.
    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("idem-plugin-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    static func remove(_ directory: URL) {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Compiles `ProbePlugin.source` with `cc -shared -fPIC` and `definitions` (`-D…`) into
    /// `directory`; returns the library's path. The compiler runs on a thread of its own:
    /// waiting for it on Swift's cooperative pool would stall every test sharing the pool.
    static func compileProbe(named name: String, in directory: URL, definitions: [String] = []) async throws
        -> String
    {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result { try compileProbeBlocking(named: name, in: directory, definitions: definitions) })
            }.start()
        }
    }

    private static func compileProbeBlocking(named name: String, in directory: URL, definitions: [String]) throws
        -> String
    {
        let source = directory.appendingPathComponent("\(name).c")
        try ProbePlugin.source.write(to: source, atomically: true, encoding: .utf8)
        let library = directory.appendingPathComponent("lib\(name).so").path
        let include = packageRoot.appendingPathComponent("Sources/CIdemPlugin/include").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        process.arguments =
            ["-shared", "-fPIC", "-O1", "-Wall", "-I", include] + definitions.map { "-D\($0)" }
            + ["-o", library, source.path, "-lpthread"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "cc failed: \(String(decoding: output, as: UTF8.self))")
        }
        return library
    }

    /// A Kafka-sourced message with `body`, and its context with ID `id`.
    static func message(
        _ body: String, id: String, headers: [String: HeaderValue] = [:], key: [UInt8]? = nil, offset: Int64 = 0
    ) -> (Message, HandlerContext) {
        let message = Message(
            body: Array(body.utf8), headers: headers, key: key,
            source: MessageSource(
                kind: "kafka", position: LogPosition(stream: "orders", lane: 3, offset: offset), features: .recordKey))
        let context = HandlerContext(
            consumer: "orders-consumer", id: MessageID(id, source: .offset), fence: 42, attempt: 2, transaction: nil)
        return (message, context)
    }

    /// Waits until a file exists at `url` (for at most 10 s).
    static func waitForFile(_ url: URL) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: url.path) {
            guard ContinuousClock.now < deadline else { throw Failure(description: "\(url.path) did not appear") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The lines of the text file at `url`.
    static func lines(of url: URL) throws -> [String] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// A JSON string literal for `text`.
    static func json(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }
}
