import IdemCore
import Tracing

/// Writes a tracer's context into a message's headers, replacing a header of the same
/// name in another case (a producer's `Traceparent`) so that a handler sees one value.
struct MessageHeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout [String: HeaderValue]) {
        let length = key.utf8.count
        let lowered = key.lowercased()
        for name in headers.keys where name.utf8.count == length && name != key && name.lowercased() == lowered {
            headers[name] = nil
        }
        headers[key] = .string(value)
    }
}
