import Logging
import ServiceLifecycle

/// swift-otel's exporter as one of the worker's services: it starts first and stops last,
/// sending the spans of the last messages, and its failure (a collector that cannot be
/// reached when the worker stops) is logged, never the worker's: spans are telemetry, and
/// losing some never fails a stop.
struct SpanExportService: Service {
    let exporter: any Service
    let logger: Logger

    func run() async throws {
        do {
            try await exporter.run()
        } catch {
            logger.warning("span export stopped; spans not yet sent are dropped: \(error)")
        }
    }
}
