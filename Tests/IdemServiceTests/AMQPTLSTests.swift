import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// `amqps://`: settings errors, and real TLS through a `socat` TLS proxy in front of the
/// development RabbitMQ (with a throwaway CA made by the `openssl` tool) when both tools
/// are installed.
@Suite("RabbitMQ over TLS")
struct AMQPTLSTests {
    let logger = AMQPTests.logger

    @Test("amqps URLs default to port 5671 and say so")
    func urls() throws {
        let url = try AMQPURL(parsing: "amqps://u:secret@rabbit.example/prod")
        #expect(url.usesTLS)
        #expect(url.port == 5671)
        #expect(url.description == "amqps://u:***@rabbit.example:5671/prod")
        #expect(try AMQPURL(parsing: "AMQPS://h:5999").port == 5999)
        #expect(try AMQPURL(parsing: "amqp://h").usesTLS == false)
        #expect(AMQPURL(host: "h", usesTLS: true).port == 5671)
        let options = AMQPTLSOptions(keyFile: "k.pem", keyPassword: "hunter2")
        #expect(!"\(options)".contains("hunter2"))
        #expect(!String(reflecting: options).contains("hunter2"))
        var dumped = ""
        dump(options, to: &dumped)
        #expect(!dumped.contains("hunter2"))
    }

    @Test("unreadable CA, certificate and key files are named in the error")
    func fileErrors() async throws {
        let url = "amqps://guest:guest@127.0.0.1:1/"
        let directory = FileManager.default.temporaryDirectory.path
        let cases: [(AMQPTLSOptions, String)] = [
            (
                AMQPTLSOptions(caFile: "/nonexistent/ca.pem"),
                "cannot read the TLS CA file '/nonexistent/ca.pem': No such file"
            ),
            (AMQPTLSOptions(caFile: directory), "cannot read the TLS CA file '\(directory)': it is a directory"),
            (
                AMQPTLSOptions(verifyPeer: false, verifyHostname: false).with(
                    cert: "/nonexistent/c.pem", key: "/nonexistent/k.pem"),
                "cannot read the TLS client certificate file '/nonexistent/c.pem'"
            ),
        ]
        for (options, expected) in cases {
            let error = await #expect(throws: AMQPError.self) {
                try await AMQPConnection.connect(url: url, tls: options, logger: logger)
            }
            #expect(error?.kind == .connectionFailed)
            #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
        }
        let notPEM = try IdemProcess.temporaryFile("not a certificate", suffix: ".pem")
        defer { try? FileManager.default.removeItem(at: notPEM) }
        let invalid = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(url: url, tls: AMQPTLSOptions(caFile: notPEM.path), logger: logger)
        }
        #expect(invalid?.message.contains("'\(notPEM.path)' holds no valid PEM certificate") == true)
        let half = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(
                url: url, tls: AMQPTLSOptions(certFile: notPEM.path, verifyPeer: false), logger: logger)
        }
        #expect(half?.kind == .invalidArgument)
        // TLS settings do not matter for amqp://.
        let plain = try await AMQPConnection.connect(
            url: try ServiceEnvironment.amqpURL(), tls: AMQPTLSOptions(caFile: "/nonexistent"), logger: logger)
        #expect(await plain.isOpen)
        await plain.close()
    }

    @Test(
        "TLS with a CA, a client certificate, and verification failures",
        .enabled(if: Self.toolsInstalled, "needs openssl and socat"))
    func realTLS() async throws {
        let proxy = try await TLSProxy.start(to: try AMQPURL(parsing: try ServiceEnvironment.amqpURL()))
        defer { proxy.stop() }
        let tlsURL = "amqps://guest:guest@localhost:\(proxy.port)/%2F"
        let trusted = AMQPTLSOptions(
            caFile: proxy.file("ca.pem"), certFile: proxy.file("client.pem"), keyFile: proxy.file("client.key"))

        let connection = try await AMQPConnection.connect(url: tlsURL, tls: trusted, logger: logger)
        let queue = AMQPTests.uniqueName("tls")
        try await connection.declareQueue(name: queue, durable: false, autoDelete: true)
        try await connection.publishAndConfirm(routingKey: queue, body: [1, 2, 3])
        #expect(try await connection.get(queue: queue, autoAck: true)?.body == [1, 2, 3])
        await connection.close()

        // The system CAs do not know the throwaway CA.
        var untrusted = trusted
        untrusted.caFile = nil
        let peer = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(url: tlsURL, tls: untrusted, logger: logger)
        }
        #expect(peer?.kind == .connectionFailed)
        #expect(peer?.message.contains("CA file") == true, "\(peer?.message ?? "")")

        // The certificate names localhost, not 127.0.0.1.
        let ipURL = "amqps://guest:guest@127.0.0.1:\(proxy.port)/%2F"
        let hostname = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(url: ipURL, tls: trusted, logger: logger)
        }
        #expect(hostname?.message.contains("does not name the host '127.0.0.1'") == true, "\(hostname?.message ?? "")")
        var lenient = trusted
        lenient.verifyHostname = false
        let byIP = try await AMQPConnection.connect(url: ipURL, tls: lenient, logger: logger)
        #expect(await byIP.isOpen)
        await byIP.close()

        // The proxy requires a client certificate.
        var anonymous = trusted
        anonymous.certFile = nil
        anonymous.keyFile = nil
        let refused = await #expect(throws: AMQPError.self) {
            let connection = try await AMQPConnection.connect(url: tlsURL, tls: anonymous, logger: logger)
            // TLS 1.3 reports a refused client certificate only on the first read.
            try await connection.declareQueue(name: AMQPTests.uniqueName("anonymous"), durable: false, autoDelete: true)
        }
        #expect(refused?.isConnectionFailure == true)
    }

    static var toolsInstalled: Bool {
        ["/usr/bin/openssl", "/usr/bin/socat"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

extension AMQPTLSOptions {
    fileprivate func with(cert: String, key: String) -> AMQPTLSOptions {
        var copy = self
        copy.certFile = cert
        copy.keyFile = key
        return copy
    }
}

/// A `socat` TLS listener on localhost that forwards to the plain broker port, with a
/// throwaway CA, a server certificate for `localhost` and a client certificate.
private final class TLSProxy {
    let directory: URL
    let port: Int
    let process: Process

    private init(directory: URL, port: Int, process: Process) {
        self.directory = directory
        self.port = port
        self.process = process
    }

    func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func start(to broker: AMQPURL) async throws -> TLSProxy {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("idem-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.path
        let script = """
            set -e
            cd '\(path)'
            key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
            key ca.key
            openssl req -x509 -new -key ca.key -subj /CN=idem-test-ca -days 1 -out ca.pem
            for who in server client; do
              key $who.key
              openssl req -new -key $who.key -subj /CN=$who -out $who.csr
              printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth,clientAuth\\n' > $who.ext
              openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \\
                -extfile $who.ext -out $who.pem 2>/dev/null
            done
            """
        let made = try await AMQPTests.run("/bin/bash", ["-c", script])
        guard made.status == 0 else { throw AMQPTests.ToolFailure(description: "openssl: \(made.output)") }

        for _ in 0..<20 {
            let port = Int.random(in: 40_000..<50_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/socat")
            process.arguments = [
                "OPENSSL-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork,cert=\(path)/server.pem,key=\(path)/server.key,"
                    + "cafile=\(path)/ca.pem,verify=1",
                "TCP:\(broker.host):\(broker.port)",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Listening, or exited because the port is taken.
            for _ in 0..<50 where process.isRunning {
                if Self.accepts(port: port) { return TLSProxy(directory: directory, port: port, process: process) }
                try await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning { process.terminate() }
        }
        throw AMQPTests.ToolFailure(description: "socat did not start listening")
    }

    func stop() {
        if process.isRunning { process.terminate() }
        // socat forks a child per connection; those carry the same arguments.
        let reaper = Process()
        reaper.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
        reaper.arguments = ["-KILL", "-f", directory.path]
        if (try? reaper.run()) != nil { reaper.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }

    private static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
