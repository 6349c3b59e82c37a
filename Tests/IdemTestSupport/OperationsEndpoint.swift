import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The operations listener of a running worker (`/metrics`, `/healthz`, `/readyz`).
public struct OperationsEndpoint: Sendable {
    /// `http://host:port`.
    public let base: URL

    /// The listener of `worker`, from the line it logs once listening.
    public static func of(_ worker: WorkerProcess, within seconds: Double = 30) async throws -> OperationsEndpoint {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let log = worker.logText
            if let range = log.range(of: "operations listener on http://") {
                let address = log[range.upperBound...].prefix { !$0.isWhitespace }
                return OperationsEndpoint(base: URL(string: "http://\(address)")!)
            }
            guard worker.process.isRunning, Date() < deadline else {
                throw WorldError.timeout("the operations listener: \(log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// GETs `path`: the status code and the body as text.
    public func get(_ path: String) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The value of the sample `name{labels}` in the Prometheus text, if present; `labels`
    /// must be written in the order the exposition uses, e.g. `consumer="orders"`.
    public func sample(_ name: String, _ labels: String = "") async throws -> Double? {
        let text = try await get("/metrics").body
        return Self.sample(in: text, name, labels)
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
