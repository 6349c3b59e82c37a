import Foundation
import IdemConsumerKit
import IdemCore
import NIOHTTP1

/// The admin API's requests, answered from the worker's ``ConsumerRoster``:
///
/// | request | answer |
/// |---|---|
/// | `GET /admin/consumers` | every consumer: state, pause, lag, messages in flight |
/// | `GET /admin/consumers/NAME` | one consumer |
/// | `POST /admin/consumers/NAME/pause` | pauses it: no new messages, what it holds is finished |
/// | `POST /admin/consumers/NAME/resume` | resumes it |
///
/// Every request needs `Authorization: Bearer TOKEN`; without it, or with another token,
/// the answer is 401. Answers are JSON.
public struct AdminAPI: Sendable {
    private let roster: ConsumerRoster
    private let token: [UInt8]

    /// The API over `roster`, for requests bearing `token`.
    public init(roster: ConsumerRoster, token: String) {
        self.roster = roster
        self.token = Array(token.utf8)
    }

    /// An answer: the status, and the JSON body.
    public struct Response: Sendable {
        /// The HTTP status.
        public var status: HTTPResponseStatus
        /// The JSON text.
        public var body: [UInt8]
    }

    /// Whether `path` is one of the API's.
    public static func handles(_ path: String) -> Bool {
        path == "/admin" || path.hasPrefix("/admin/")
    }

    /// The answer to `method path` with the `Authorization` header `authorization`.
    public func respond(method: HTTPMethod, path: String, authorization: String?) -> Response {
        guard authorized(authorization) else {
            return error(.unauthorized, "missing or wrong bearer token (Authorization: Bearer TOKEN, admin.token)")
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 2, parts[0] == "admin", parts[1] == "consumers" else {
            return error(.notFound, "no such admin endpoint \(path); try GET /admin/consumers")
        }
        switch (method, parts.count) {
        case (.GET, 2):
            return json(.ok, [("consumers", .array(roster.snapshot().map(Self.json)))])
        case (.GET, 3):
            guard let entry = roster.entry(named: parts[2]) else { return unknown(parts[2]) }
            return json(.ok, [("consumer", Self.json(roster.snapshot(entry)))])
        case (.POST, 4) where parts[3] == "pause" || parts[3] == "resume":
            guard let entry = roster.entry(named: parts[2]) else { return unknown(parts[2]) }
            let changed = parts[3] == "pause" ? entry.control.pause() : entry.control.resume()
            return json(.ok, [("consumer", Self.json(roster.snapshot(entry))), ("changed", .bool(changed))])
        case (_, 2), (_, 3):
            return error(.methodNotAllowed, "use GET for \(path)")
        case (_, 4) where parts[3] == "pause" || parts[3] == "resume":
            return error(.methodNotAllowed, "use POST for \(path)")
        default:
            return error(.notFound, "no such admin endpoint \(path); try GET /admin/consumers")
        }
    }

    /// Compares the bearer token in constant time.
    private func authorized(_ header: String?) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        let given = Array(header.dropFirst("Bearer ".count).utf8)
        guard given.count == token.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(given, token) { difference |= a ^ b }
        return difference == 0
    }

    private func unknown(_ name: String) -> Response {
        let names = roster.entries.map(\.name).joined(separator: ", ")
        return error(.notFound, "no consumer named '\(name)' in this worker (its consumers: \(names))")
    }

    private func error(_ status: HTTPResponseStatus, _ message: String) -> Response {
        json(status, [("error", .string(message))])
    }

    private func json(_ status: HTTPResponseStatus, _ object: [(String, JSONValue)]) -> Response {
        Response(status: status, body: Array((JSONValue.object(object).jsonText + "\n").utf8))
    }

    static func json(_ snapshot: ConsumerSnapshot) -> JSONValue {
        .object([
            ("name", .string(snapshot.name)),
            ("broker", .string(snapshot.broker)),
            ("state", .string(snapshot.state)),
            ("paused", .bool(snapshot.paused)),
            ("paused_since", snapshot.pausedSince.map { .string($0.formatted(.iso8601)) } ?? .null),
            ("lag", snapshot.lag.map { .number(String($0)) } ?? .null),
            ("in_flight", .number(String(snapshot.inFlight))),
        ])
    }
}
