import Foundation
import Testing

@testable import IdemConfig

private func loadAdding(_ extra: String, env: [String: String] = [:]) throws(ConfigError) -> WorkerConfig {
    try load(minimal + "\n" + extra + "\n", env: env)
}

private func messages(_ extra: String) -> [String] {
    issues(minimal + "\n" + extra + "\n", env: [:]).map(\.description)
}

/// The `tracing:` section: span export off by default, a local collector once enabled.
@Suite("Configuration: span export")
struct TracingSettingsTests {
    @Test func offByDefaultAndALocalCollectorWhenEnabled() throws {
        #expect(try loadAdding("").tracing == TracingSettings())
        #expect(try loadAdding("").tracing.enabled == false)
        let config = try loadAdding("tracing: {enabled: true}")
        #expect(config.tracing.enabled)
        #expect(config.tracing.endpoint == "http://127.0.0.1:4318/v1/traces")
        #expect(config.tracing.encoding == .protobuf)
        #expect(config.tracing.serviceName == "idem")
        #expect(config.tracing.sampleRatio == 1)
    }

    @Test func everySettingIsRead() throws {
        let config = try loadAdding(
            """
            tracing:
              enabled: true
              endpoint: https://otel.example.com:4318/v1/traces
              encoding: json
              service_name: orders-worker
              sample_ratio: 0.25
              headers: {x-api-key: "${OTEL_KEY}"}
            """, env: ["OTEL_KEY": "k-123"])
        #expect(config.tracing.endpoint == "https://otel.example.com:4318/v1/traces")
        #expect(config.tracing.encoding == .json)
        #expect(config.tracing.serviceName == "orders-worker")
        #expect(config.tracing.sampleRatio == 0.25)
        #expect(config.tracing.headers == ["x-api-key": "k-123"])
    }

    @Test func badValuesNameTheSettingAndWhatIsExpected() {
        let endpoint = messages("tracing: {enabled: true, endpoint: localhost:4318}")
        #expect(endpoint.count == 1)
        #expect(
            endpoint.first?.contains("tracing.endpoint: expected the collector's OTLP/HTTP traces URL") == true,
            "\(endpoint)")
        let ratio = messages("tracing: {enabled: true, sample_ratio: 2}")
        #expect(ratio.first?.contains("tracing.sample_ratio: expected a number from 0.0 to 1.0") == true, "\(ratio)")
        let encoding = messages("tracing: {enabled: true, encoding: grpc}")
        #expect(encoding.first?.contains("tracing.encoding: expected one of protobuf, json") == true, "\(encoding)")
        let key = messages("tracing: {enabled: true, endpiont: http://127.0.0.1:4318/v1/traces}")
        #expect(key.first?.contains("endpiont") == true, "\(key)")
        #expect(key.first?.contains("endpoint") == true, "a suggestion: \(key)")
    }
}
