/// Span export (`tracing:`): a consumer span per message, sent to an OpenTelemetry
/// collector over OTLP/HTTP.
///
/// Off by default. Trace context propagation (`traceparent` and `tracestate` read from each
/// message, handed to handlers, kept on dead letters) works whether or not spans are
/// exported; when they are, a handler sees idem's span as its parent instead of the
/// producer's.
public struct TracingSettings: Sendable, Hashable {
    /// Whether spans are exported.
    public var enabled: Bool
    /// The collector's OTLP/HTTP traces URL.
    public var endpoint: String
    /// How spans are encoded on the wire.
    public var encoding: Encoding
    /// The `service.name` resource attribute of every span.
    public var serviceName: String
    /// The share of traces started by idem that are sampled (0 to 1). A message whose
    /// producer decided already keeps the producer's decision.
    public var sampleRatio: Double
    /// Extra HTTP headers sent with each export (e.g. an API key), treated as secrets.
    public var headers: [String: String]

    /// The OTLP/HTTP body encodings.
    public enum Encoding: String, Sendable, Hashable, CaseIterable {
        /// `application/x-protobuf`, what every collector accepts.
        case protobuf
        /// `application/json`.
        case json
    }

    /// The default collector address: an OpenTelemetry Collector on the same host.
    public static let defaultEndpoint = "http://127.0.0.1:4318/v1/traces"

    /// Creates settings; the default is off, exporting protobuf to a local collector once
    /// enabled, every trace sampled.
    public init(
        enabled: Bool = false, endpoint: String = Self.defaultEndpoint, encoding: Encoding = .protobuf,
        serviceName: String = "idem", sampleRatio: Double = 1, headers: [String: String] = [:]
    ) {
        self.enabled = enabled
        self.endpoint = endpoint
        self.encoding = encoding
        self.serviceName = serviceName
        self.sampleRatio = sampleRatio
        self.headers = headers
    }
}
