import Metrics
import Prometheus

/// Bootstraps swift-metrics for the executable with the Prometheus backend, whose text
/// `/metrics` serves.
enum MetricsSetup {
    /// Bootstraps the metrics system (once per process) and returns the renderer of its
    /// exposition.
    static func bootstrapPrometheus() -> @Sendable () -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Handler calls and dedup round trips: from a millisecond to a minute.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        factory.valueHistogramBuckets["idem_batch_size"] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
        MetricsSystem.bootstrap(factory)
        return {
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 << 10)
            registry.emit(into: &buffer)
            return buffer
        }
    }
}
