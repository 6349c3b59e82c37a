import Foundation
import Testing

/// Waits until `condition` holds, polling every 100 ms, for at most `seconds`; records an
/// issue naming `what` and throws ``WorldError/timeout(_:)`` when it does not.
public func waitUntil(
    _ seconds: Double = 30, _ what: String, _ condition: () async throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("timed out after \(seconds) s waiting for \(what)")
    throw WorldError.timeout(what)
}
