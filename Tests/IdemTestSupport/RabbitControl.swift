import Foundation
import Testing

/// `rabbitmqctl` of the test node, through the project's script.
public enum RabbitControl {
    /// `scripts/services.sh` of this repository.
    public static var servicesScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/services.sh").path
    }

    /// Runs `scripts/services.sh ARGUMENTS…` and returns its standard output.
    public static func services(_ arguments: [String]) async throws -> String {
        try await shell(["bash", servicesScript] + arguments)
    }

    public static func closeConnections(named name: String) async throws {
        let script = servicesScript
        // RabbitMQ 3.10 lists the connection name among the client properties.
        let listing = try await shell([
            "bash", script, "rabbitmqctl", "list_connections", "pid", "client_properties", "-s",
        ])
        let pids = listing.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("\"\(name)\"") || line.contains("<<\"\(name)\">>") else { return nil }
            return line.split(separator: "\t").first.map(String.init)
        }
        try #require(!pids.isEmpty, "no connection named \(name) in: \(listing)")
        for pid in pids {
            _ = try await shell(["bash", script, "rabbitmqctl", "close_connection", pid, "closed by the test"])
        }
    }

    /// Runs a command and returns its standard output. It is spawned and waited for with
    /// `posix_spawn` and `waitpid`, and its output goes through a file: a daemon the command
    /// starts (`pg_ctl start`, epmd) keeps inherited descriptors open and has kept
    /// Foundation's `Process.waitUntilExit` from returning.
    public static func shell(_ arguments: [String]) async throws -> String {
        try await IdemProcess.offPool {
            let output = FileManager.default.temporaryDirectory.appendingPathComponent(
                "idem-shell-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: output) }
            let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(
                separator: " ")
            let script = "\(quoted) </dev/null >'\(output.path)' 2>/dev/null"
            var pid: pid_t = 0
            let words: [String] = ["/bin/sh", "-c", script]
            let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ)
            guard spawned == 0 else { throw ShellError(description: "posix_spawn failed: \(spawned)") }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            return (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        }
    }
}

/// A command the tests could not start.
public struct ShellError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
}
