import Foundation

/// Runs the built `idem` executable as a child process, as a user would.
public struct IdemProcess {
    /// The `idem` binary beside the test bundle, or `$IDEM_BINARY`.
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["IDEM_BINARY"] { return URL(fileURLWithPath: path) }
        return builtProduct("idem")
    }

    /// A file the build put beside the test bundle (an executable, a plugin library).
    public static func builtProduct(_ name: String) -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // The bundle may be a directory (…/idemPackageTests.xctest/…) on some toolchains.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path),
            directory.path != "/"
        {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent(name)
    }

    /// How a run ended.
    public struct Outcome: Sendable {
        /// The exit status.
        public var status: Int32
        /// Everything written to standard output.
        public var stdout: String
        /// Everything written to standard error.
        public var stderr: String
    }

    /// Runs `idem arguments…` to completion, on a thread of its own so that waiting for the
    /// child never blocks Swift's cooperative pool (which the tests share).
    public static func run(_ arguments: [String], environment: [String: String]? = nil) async throws -> Outcome {
        try await offPool { try runBlocking(arguments, environment: environment) }
    }

    /// Runs blocking work on a new thread and returns its result.
    public static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    private static func runBlocking(_ arguments: [String], environment: [String: String]?) throws -> Outcome {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // A command that never ends fails its test instead of hanging the run.
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) {
            if process.isRunning { kill(pid, SIGKILL) }
        }
        // Read both pipes before waiting, so that a full pipe cannot block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var stdoutData = Data()
        nonisolated(unsafe) var stderrData = Data()
        DispatchQueue.global().async(group: group) { stdoutData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { stderrData = err.fileHandleForReading.readDataToEndOfFile() }
        group.wait()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self))
    }

    /// A temporary file holding `text`.
    public static func temporaryFile(_ text: String, suffix: String = ".yaml") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "idem-test-\(UUID().uuidString)\(suffix)")
        try Data(text.utf8).write(to: url)
        return url
    }
}
