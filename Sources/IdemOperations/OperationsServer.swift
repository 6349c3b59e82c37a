import IdemConsumerKit
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The operations listener (`metrics.listen`): `/metrics` in the Prometheus text format,
/// `/healthz` (the process is alive) and `/readyz` (``HealthState``), for scrapers and
/// Kubernetes probes; with `admin: {listen: metrics}`, also the ``AdminAPI``. Or the admin
/// API's own listener (`admin.listen`), which answers only `/admin/…`.
///
/// It runs on SwiftNIO's own event loop threads, never on the cooperative pool, so that a
/// busy worker still answers its probes.
public struct OperationsServer: Service {
    private let host: String
    private let port: Int
    private let health: HealthState?
    private let metrics: @Sendable () -> [UInt8]
    private let admin: AdminAPI?
    private let logger: Logger
    private let bound: (@Sendable (SocketAddress) -> Void)?

    /// Creates the operations listener for `host:port`; `metrics` renders the metrics text;
    /// `admin` is the admin API when it shares this listener; `bound` is told the address
    /// once listening.
    public init(
        host: String, port: Int, health: HealthState, metrics: @escaping @Sendable () -> [UInt8],
        admin: AdminAPI? = nil, logger: Logger, bound: (@Sendable (SocketAddress) -> Void)? = nil
    ) {
        self.host = host
        self.port = port
        self.health = health
        self.metrics = metrics
        self.admin = admin
        self.logger = logger
        self.bound = bound
    }

    /// Creates the admin API's own listener for `host:port`.
    public init(adminHost host: String, port: Int, admin: AdminAPI, logger: Logger) {
        self.host = host
        self.port = port
        self.health = nil
        self.metrics = { [] }
        self.admin = admin
        self.logger = logger
        self.bound = nil
    }

    /// What the listener serves, for its log line and errors.
    private var role: (what: String, key: String, paths: String) {
        if health == nil { return ("the admin API", "admin.listen", "/admin/consumers") }
        return (
            "metrics and health", "metrics.listen",
            admin == nil ? "/metrics, /healthz, /readyz" : "/metrics, /healthz, /readyz, /admin"
        )
    }

    /// Why the listener could not start.
    public struct BindError: Error, CustomStringConvertible {
        /// `host:port`.
        public var address: String
        /// What the system said.
        public var reason: String
        /// What it was to serve, and its configuration key.
        var role: (what: String, key: String) = ("metrics and health", "metrics.listen")

        public var description: String {
            let off = role.key == "admin.listen" ? "admin.enabled: false" : "metrics.enabled: false"
            return
                "cannot listen on \(address) for \(role.what) (\(role.key)): \(reason); choose another \(role.key), or set \(off)"
        }
    }

    public func run() async throws {
        let health = self.health
        let metrics = self.metrics
        let admin = self.admin
        let role = self.role
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            OperationsHTTPHandler(health: health, metrics: metrics, admin: admin))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            throw BindError(address: address, reason: "\(error)", role: (role.what, role.key))
        }
        if let address = channel.localAddress {
            let shown = "\(address.ipAddress ?? host):\(address.port ?? port)"
            let name = health == nil ? "admin API" : "operations listener"
            logger.info("\(name) on http://\(shown) (\(role.paths))")
            bound?(address)
        }
        try? await gracefulShutdown()
        try? await channel.close()
    }
}
