// The embedding program of the handler benchmark (scripts/bench-handlers.sh): idem's
// command line with one Swift handler, `markers`, that does what the example plugins do
// without their `out` file (a body containing `"reject": true` is rejected, one containing
// `"retry": true` is retried, anything else succeeds), so that a plugin can be compared
// with the same work done in Swift.
import IdemCLI

/// The example plugins' work, in Swift.
struct MarkersHandler: MessageHandler {
    static let reject = Array(#""reject": true"#.utf8)
    static let retry = Array(#""retry": true"#.utf8)

    func handle(_ message: Message, context: HandlerContext) async throws -> HandlerResult {
        if Self.contains(message.body, Self.reject) {
            return .reject(#"rejected by the example handler: body contains "reject": true"#)
        }
        if Self.contains(message.body, Self.retry) {
            return .retry(#"retry requested by the example handler: body contains "retry": true"#)
        }
        return .success
    }

    static func contains(_ body: [UInt8], _ marker: [UInt8]) -> Bool {
        guard !marker.isEmpty, body.count >= marker.count else { return false }
        return (0...(body.count - marker.count)).contains { start in
            body[start..<(start + marker.count)].elementsEqual(marker)
        }
    }
}

var handlers = HandlerRegistry()
handlers.register("markers", MarkersHandler())
await IdemCommandLine.main(handlers: handlers)
