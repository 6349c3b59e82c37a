import IdemConsumerKit
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The operations listener (`metrics.listen`): `/metrics` in the Prometheus text format,
/// `/healthz` (the process is alive) and `/readyz` (``HealthState``), for scrapers and
/// Kubernetes probes.
///
/// It runs on SwiftNIO's own event loop threads, never on the cooperative pool, so that a
/// busy worker still answers its probes.
public struct OperationsServer: Service {
    private let host: String
    private let port: Int
    private let health: HealthState
    private let metrics: @Sendable () -> [UInt8]
    private let logger: Logger
    private let bound: (@Sendable (SocketAddress) -> Void)?

    /// Creates the listener for `host:port`; `metrics` renders the metrics text; `bound` is
    /// told the address once listening.
    public init(
        host: String, port: Int, health: HealthState, metrics: @escaping @Sendable () -> [UInt8], logger: Logger,
        bound: (@Sendable (SocketAddress) -> Void)? = nil
    ) {
        self.host = host
        self.port = port
        self.health = health
        self.metrics = metrics
        self.logger = logger
        self.bound = bound
    }

    /// Why the listener could not start.
    public struct BindError: Error, CustomStringConvertible {
        /// `host:port`.
        public var address: String
        /// What the system said.
        public var reason: String

        public var description: String {
            "cannot listen on \(address) for metrics and health (metrics.listen): \(reason); choose another metrics.listen, or set metrics.enabled: false"
        }
    }

    public func run() async throws {
        let health = self.health
        let metrics = self.metrics
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            OperationsHTTPHandler(health: health, metrics: metrics))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            throw BindError(address: address, reason: "\(error)")
        }
        if let address = channel.localAddress {
            let shown = "\(address.ipAddress ?? host):\(address.port ?? port)"
            logger.info("operations listener on http://\(shown) (/metrics, /healthz, /readyz)")
            bound?(address)
        }
        try? await gracefulShutdown()
        try? await channel.close()
    }
}
