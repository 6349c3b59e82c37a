import IdemCore

/// A whole `worker.yaml`: the database, the consumers, and process settings.
public struct WorkerConfig: Sendable {
    /// The PostgreSQL that holds the dedup table.
    public var postgres: PostgresSettings
    /// The consumers, each with its source, identity, handler and policies.
    public var consumers: [ConsumerConfig]
    /// How the process stops.
    public var shutdown: ShutdownSettings
    /// How the process logs.
    public var logging: LoggingSettings
    /// The metrics and health listener.
    public var metrics: MetricsSettings
    /// The admin API (off unless configured).
    public var admin: AdminSettings
    /// Span export (off unless configured).
    public var tracing: TracingSettings
    /// The file it was read from.
    public var file: String
    /// Environment variables that `${…}` references used; their values are treated as secrets.
    public var interpolatedVariables: Set<String>

    /// Creates a configuration.
    public init(
        postgres: PostgresSettings, consumers: [ConsumerConfig], shutdown: ShutdownSettings,
        logging: LoggingSettings, metrics: MetricsSettings = MetricsSettings(), admin: AdminSettings = AdminSettings(),
        tracing: TracingSettings = TracingSettings(), file: String,
        interpolatedVariables: Set<String> = []
    ) {
        self.postgres = postgres
        self.consumers = consumers
        self.shutdown = shutdown
        self.logging = logging
        self.metrics = metrics
        self.admin = admin
        self.tracing = tracing
        self.file = file
        self.interpolatedVariables = interpolatedVariables
    }
}
