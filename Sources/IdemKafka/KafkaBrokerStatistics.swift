/// Reads what idem needs from librdkafka's statistics JSON (`statistics.interval.ms`):
/// whether any real broker connection is up. A scan for two keys, not a JSON parse: the
/// document lists every partition and can be large.
enum KafkaBrokerStatistics {
    /// Whether a broker the client learned or was configured with is in state `UP`;
    /// `nil` when the document lists no broker. librdkafka's internal broker, always up,
    /// does not count.
    ///
    /// Each broker object holds `"source":"learned|configured|internal|logical"` followed by
    /// `"state":"UP|DOWN|CONNECT|…"`.
    static func anyBrokerUp(_ json: UnsafeRawBufferPointer) -> Bool? {
        let bytes = json.bindMemory(to: UInt8.self)
        var position = 0
        var sawBroker = false
        while let sourceEnd = find(Array(#""source":""#.utf8), in: bytes, from: position) {
            let source = value(in: bytes, at: sourceEnd)
            guard let stateEnd = find(Array(#""state":""#.utf8), in: bytes, from: source.end) else { break }
            let state = value(in: bytes, at: stateEnd)
            position = state.end
            guard source.text != "internal" && source.text != "logical" else { continue }
            sawBroker = true
            if state.text == "UP" { return true }
        }
        return sawBroker ? false : nil
    }

    /// The index after the first occurrence of `needle` at or after `start`.
    private static func find(_ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard needle.count <= bytes.count else { return nil }
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0] {
                var matched = true
                for offset in 1..<needle.count where bytes[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index + needle.count }
            }
            index += 1
        }
        return nil
    }

    /// The string value starting at `start`, up to its closing quote.
    private static func value(in bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> (text: String, end: Int) {
        var end = start
        while end < bytes.count && bytes[end] != UInt8(ascii: "\"") { end += 1 }
        return (String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self), end)
    }
}
