import W3CTraceContext

/// The W3C Trace Context a message carries (`traceparent`, and `tracestate` when present),
/// read from its AMQP headers or Kafka record headers, so that a handler's work joins the
/// producer's trace.
///
/// The header names are matched without regard to case; a `traceparent` that is not valid
/// (version `00`, a 32-digit trace ID and a 16-digit parent ID that are not all zeros, two
/// flag digits) is ignored, as the W3C recommendation says, and so is a `tracestate`
/// without a valid `traceparent`.
public struct MessageTrace: Sendable, Hashable {
    /// The `traceparent` header, as received.
    public let traceparent: String
    /// The `tracestate` header, when present and valid.
    public let tracestate: String?
    /// The trace ID: 32 lowercase hex digits.
    public let traceID: String
    /// The producer's span ID (the parent of the handler's work): 16 lowercase hex digits.
    public let parentID: String
    /// Whether the producer sampled the trace (flag `01`).
    public let sampled: Bool

    /// The trace context of `headers`, or `nil` when they carry no valid `traceparent`.
    public init?(headers: [String: HeaderValue]) {
        var parent: String?
        var state: String?
        for (name, value) in headers {
            // Only `traceparent` (11 bytes) and `tracestate` (10) can match: the other
            // headers of every message are passed over without lowercasing them.
            let length = name.utf8.count
            guard length == 10 || length == 11 else { continue }
            switch name.lowercased() {
            case "traceparent": parent = value.identityText
            case "tracestate": state = value.identityText
            default: continue
            }
        }
        guard let parent else { return nil }
        let trimmed = parent.trimmingCharacters(in: .whitespaces)
        guard let context = try? TraceContext(traceParentHeaderValue: trimmed) else { return nil }
        traceparent = trimmed
        traceID = context.traceID.description
        parentID = context.spanID.description
        sampled = context.flags.contains(.sampled)
        if let state, (try? TraceContext(traceParentHeaderValue: trimmed, traceStateHeaderValue: state)) != nil {
            tracestate = state
        } else {
            tracestate = nil
        }
    }
}

extension Message {
    /// The W3C Trace Context the message carries, if it carries a valid one.
    public var trace: MessageTrace? { MessageTrace(headers: headers) }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}

extension Set where Element == Character {
    fileprivate static let whitespaces: Set<Character> = [" ", "\t"]
}
