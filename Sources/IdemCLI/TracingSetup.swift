import Foundation
import IdemConfig
import IdemRuntime
import Logging
import OTel
import Tracing

/// Bootstraps span export for `idem run` from the `tracing` settings: swift-otel's OTLP/HTTP
/// exporter behind swift-distributed-tracing, which idem's consumer spans and a Swift
/// handler's own spans both use.
enum TracingSetup {
    /// The longest an export of a batch of spans may take.
    static let exportTimeout: Duration = .seconds(3)

    /// The export `settings` ask for (once per process), or `nil` when they leave it off.
    /// `OTEL_*` environment variables (such as `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) override
    /// the settings, as every OpenTelemetry SDK does.
    static func bootstrap(_ settings: TracingSettings, logger: Logger) throws -> WorkerRuntime.SpanExport? {
        guard settings.enabled else { return nil }
        if ProcessInfo.processInfo.environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" {
            logger.notice("OTEL_SDK_DISABLED is true: no spans are exported, although tracing.enabled is true")
            return nil
        }
        var configuration = OTel.Configuration.default
        configuration.serviceName = settings.serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.traces.exporter = .otlp
        // Consumer spans are sampled before they are started (`sample_ratio`, or the
        // producer's decision): the tracer records what it is asked for, and a handler's
        // spans follow their parent's decision.
        configuration.traces.sampler = .parentBasedAlwaysOn
        configuration.traces.otlpExporter.endpoint = settings.endpoint
        configuration.traces.otlpExporter.protocol = settings.encoding == .json ? .httpJSON : .httpProtobuf
        // A collector that does not answer costs at most this per export, and when the
        // worker stops (the last flush), within any sane grace period.
        configuration.traces.otlpExporter.timeout = exportTimeout
        configuration.traces.batchSpanProcessor.exportTimeout = exportTimeout
        // Consumers end spans by the batch: exports of up to 2,048 spans, at least every
        // second; past 8,192 waiting, spans are dropped (counted in a warning).
        configuration.traces.batchSpanProcessor.scheduleDelay = .seconds(1)
        configuration.traces.batchSpanProcessor.maxExportBatchSize = 2048
        configuration.traces.batchSpanProcessor.maxQueueSize = 8192
        configuration.traces.otlpExporter.headers = settings.headers.sorted { $0.key < $1.key }.map {
            ($0.key, $0.value)
        }
        var diagnostics = logger
        diagnostics[metadataKey: "component"] = "otlp"
        configuration.diagnosticLogger = .custom(diagnostics)
        configuration.diagnosticLogLevel = .warning
        configuration.propagators = [.traceContext]
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        logger.info(
            "exporting spans",
            metadata: [
                "endpoint": .string(Redaction.url(settings.endpoint)), "encoding": .string(settings.encoding.rawValue),
                "sample_ratio": "\(settings.sampleRatio)",
            ])
        return WorkerRuntime.SpanExport(
            tracer: backend.factory, service: SpanExportService(exporter: backend.service, logger: diagnostics),
            sampleRatio: settings.sampleRatio)
    }
}
