import IdemCore
import Tracing

/// Reads a message's W3C trace headers for a tracer: `traceparent` and `tracestate`
/// whatever their case, and only when the `traceparent` is valid (``MessageTrace``).
struct MessageHeaderExtractor: Extractor {
    func extract(key: String, from headers: [String: HeaderValue]) -> String? {
        switch key.lowercased() {
        case "traceparent": return MessageTrace(headers: headers)?.traceparent
        case "tracestate": return MessageTrace(headers: headers)?.tracestate
        default:
            if let value = headers[key] { return value.identityText }
            return headers.first { $0.key.lowercased() == key.lowercased() }?.value.identityText
        }
    }
}
