import Foundation
import IdemTestSupport
import Testing

@Suite("Signals")
struct ShutdownTests {
    /// Starts `idem run`, waits until it is up, sends `signal`, and returns the exit status
    /// and the seconds from signal to exit.
    func runAndSignal(_ signal: Int32, gracePeriod: String) throws -> (status: Int32, seconds: Double, log: String) {
        // Nothing listens on the configured PostgreSQL port: the worker keeps retrying
        // (fail-closed) when the signal comes.
        let config = try IdemProcess.temporaryFile(
            minimalConfig.replacingOccurrences(of: "consumers:", with: "  connect_timeout: 200ms\nconsumers:")
                + "\nmetrics: {listen: \"127.0.0.1:0\"}\n")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("idem-run-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = IdemProcess.binary
        process.arguments = ["run", "--config", config.path, "--grace-period", gracePeriod]
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        let started = Date()
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        while !logText().contains("PostgreSQL unavailable, retrying") {
            guard process.isRunning, Date().timeIntervalSince(started) < 30 else {
                throw TestFailure("idem run did not start: \(logText())")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let signalled = Date()
        kill(process.processIdentifier, signal)
        while process.isRunning && Date().timeIntervalSince(signalled) < 20 {
            Thread.sleep(forTimeInterval: 0.02)
        }
        let seconds = Date().timeIntervalSince(signalled)
        guard !process.isRunning else { throw TestFailure("idem run did not exit within 20 s of the signal") }
        return (process.terminationStatus, seconds, logText())
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func exitsZeroWithinTheGracePeriod(signal: Int32) async throws {
        let result = try await IdemProcess.offPool { try runAndSignal(signal, gracePeriod: "5s") }
        #expect(result.status == 0, "\(result.log)")
        #expect(result.seconds < 5, "took \(result.seconds) s")
        #expect(result.log.contains("idem stopped"))
        #expect(result.log.contains("idem starting"))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
