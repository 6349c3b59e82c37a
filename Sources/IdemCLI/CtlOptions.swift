import ArgumentParser
import Foundation
import IdemConfig
import IdemCore
import IdemOperations
import NIOHTTP1

/// Where `idem ctl` finds the admin API and its token.
struct CtlOptions: ParsableArguments {
    @Option(
        name: [.short, .long],
        help: ArgumentHelp("The worker configuration file, for admin.listen and the token.", valueName: "file"))
    var config: String = "worker.yaml"

    @Option(help: ArgumentHelp("The admin API's address, instead of admin.listen.", valueName: "http://host:port"))
    var url: String?

    @Option(
        help: ArgumentHelp(
            "A file holding the bearer token, instead of the configuration's (or IDEM_ADMIN_TOKEN).",
            valueName: "file"))
    var tokenFile: String?

    /// The client for the admin API these options name.
    func client() throws -> AdminClient {
        var token = try explicitToken()
        var address: (host: String, port: Int)?
        if let url {
            guard let parsed = Self.parse(url: url) else {
                throw CLIFailure.config("--url: expected http://host:port, got \"\(url)\"")
            }
            address = parsed
        }
        if address == nil || token == nil {
            let worker = try ConfigOptions.load(config)
            guard worker.admin.enabled else {
                throw CLIFailure.config(
                    "\(worker.file) does not enable the admin API (admin.enabled: true, with a token); or give --url and --token-file"
                )
            }
            if token == nil { token = worker.admin.token }
            if address == nil { address = try Self.address(of: worker) }
        }
        return AdminClient(host: address!.host, port: address!.port, token: token!)
    }

    /// Sends `method path` and returns the answer's JSON, turning refusals into usage errors
    /// (exit 2) and failures into runtime errors (exit 1).
    func send(_ method: HTTPMethod, _ path: String) async throws -> JSONValue {
        let client = try client()
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try await client.request(method, path)
        } catch {
            throw CLIFailure.runtime("idem ctl: \(error)")
        }
        let json = try? JSONValue(parsing: answer.body)
        let message = json?[member: "error"]?.scalarText ?? String(decoding: answer.body, as: UTF8.self)
        switch answer.status {
        case 200: break
        case 401: throw CLIFailure.config("idem ctl: the admin API at \(client.address) refused the token: \(message)")
        case 404: throw CLIFailure.config("idem ctl: \(message)")
        default: throw CLIFailure.runtime("idem ctl: the admin API answered \(answer.status): \(message)")
        }
        guard let json else {
            throw CLIFailure.runtime("idem ctl: the admin API at \(client.address) did not answer JSON")
        }
        return json
    }

    private func explicitToken() throws -> String? {
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw CLIFailure.config("--token-file: cannot read \(tokenFile)")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw CLIFailure.config("--token-file: \(tokenFile) is empty") }
            return token
        }
        if let token = ProcessInfo.processInfo.environment["IDEM_ADMIN_TOKEN"], !token.isEmpty, url != nil {
            return token
        }
        return nil
    }

    /// Where the worker of `config` serves its admin API: a wildcard address is reached on
    /// the loopback.
    static func address(of config: WorkerConfig) throws -> (host: String, port: Int) {
        var host: String
        var port: Int
        switch config.admin.listen {
        case .address(let listenHost, let listenPort): (host, port) = (listenHost, listenPort)
        case .metrics: (host, port) = (config.metrics.host, config.metrics.port)
        }
        guard port != 0 else {
            throw CLIFailure.config(
                "\(config.file) lets the admin API take any free port (port 0); give --url with the port its log names")
        }
        if host == "0.0.0.0" { host = "127.0.0.1" }
        if host == "::" { host = "::1" }
        return (host, port)
    }

    static func parse(url: String) -> (host: String, port: Int)? {
        guard url.hasPrefix("http://") else { return nil }
        var rest = url.dropFirst("http://".count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        return MetricsSettings.parseListen(String(rest))
    }
}
