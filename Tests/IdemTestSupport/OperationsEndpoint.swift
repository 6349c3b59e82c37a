import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The operations listener of a running worker (`/metrics`, `/healthz`, `/readyz`).
public struct OperationsEndpoint: Sendable {
    /// `http://host:port`.
    public let base: URL

    /// The listener of `worker`, from the line it logs once listening (`what`: the
    /// operations listener, or the `admin API`'s own).
    public static func of(
        _ worker: WorkerProcess, _ what: String = "operations listener", within seconds: Double = 30
    ) async throws -> OperationsEndpoint {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let log = worker.logText
            if let range = log.range(of: "\(what) on http://") {
                let address = log[range.upperBound...].prefix { !$0.isWhitespace }
                return OperationsEndpoint(base: URL(string: "http://\(address)")!)
            }
            guard worker.process.isRunning, Date() < deadline else {
                throw WorldError.timeout("the operations listener: \(log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// GETs `path` (or sends `method`, with `Authorization: Bearer token` when given): the
    /// status code and the body as text.
    public func get(_ path: String, method: String = "GET", token: String? = nil) async throws -> (
        status: Int, body: String
    ) {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// Waits until `/readyz` answers `ready` (200) or not (503) and returns its body; on a
    /// timeout the error carries `worker`'s log.
    @discardableResult
    public func waitForReadiness(_ ready: Bool, within seconds: Double = 20, worker: WorkerProcess) async throws
        -> String
    {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let (status, body) = try await get("/readyz")
            if status == (ready ? 200 : 503) { return body }
            guard Date() < deadline else {
                throw WorldError.timeout(
                    "/readyz \(ready ? "ready" : "not ready") (last: \(status) \(body)): \(worker.logText)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The value of the sample `name{labels}` in the Prometheus text, if present; `labels`
    /// must be written in the order the exposition uses, e.g. `consumer="orders"`.
    public func sample(_ name: String, _ labels: String = "") async throws -> Double? {
        let text = try await get("/metrics").body
        return Self.sample(in: text, name, labels)
    }

    /// One scrape of `/metrics`, read for one consumer's samples.
    public struct Scrape: Sendable {
        /// The exposition text.
        public let text: String
        /// The consumer whose samples ``callAsFunction(_:_:)`` reads.
        public let consumer: String

        /// The sample `name{consumer="…",labels}`, if present.
        public func callAsFunction(_ name: String, _ labels: String = "") -> Double? {
            OperationsEndpoint.sample(in: text, name, "consumer=\"\(consumer)\"" + (labels.isEmpty ? "" : "," + labels))
        }
    }

    /// Scrapes `/metrics` once, to read `consumer`'s samples.
    public func scrape(consumer: String) async throws -> Scrape {
        Scrape(text: try await get("/metrics").body, consumer: consumer)
    }

    /// The value of the sample `name{labels}` in a Prometheus text exposition.
    public static func sample(in text: String, _ name: String, _ labels: String = "") -> Double? {
        let prefix = labels.isEmpty ? "\(name) " : "\(name){\(labels)} "
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            return Double(line.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
