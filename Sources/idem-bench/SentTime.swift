import Foundation

/// The send time that paced-publish and kafka-paced write into each body
/// (`{"id":"…","sent_us":MICROSECONDS}`), read back by a bare consumer that measures
/// publish-to-receive latency, and the summary it prints.
enum SentTime {
    /// The microseconds after `"sent_us":` in the body, or nil when it has none.
    static func micros(in body: [UInt8]) -> Int64? {
        guard var cursor = end(of: Array(#""sent_us":"#.utf8), in: body) else { return nil }
        var value: Int64 = 0
        let start = cursor
        while cursor < body.count, (48...57).contains(body[cursor]), cursor - start < 18 {
            value = value * 10 + Int64(body[cursor] - 48)
            cursor += 1
        }
        return cursor > start ? value : nil
    }

    /// Whether the body is one of kafka-paced's warm-up records (`"id":"PREFIX-warm-N"`),
    /// sent before its clock started.
    static func isWarmUp(_ body: [UInt8]) -> Bool {
        end(of: Array("-warm-".utf8), in: body) != nil
    }

    /// `"p50_ms": …, "p99_ms": …, "max_ms": …` of the latencies, in milliseconds.
    static func summary(of latencies: [Double]) -> String {
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> String {
            guard !sorted.isEmpty else { return "0" }
            return String(format: "%.2f", sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))])
        }
        return #""p50_ms": \#(percentile(0.5)), "p99_ms": \#(percentile(0.99)), "max_ms": \#(percentile(1))"#
    }

    /// The index just past the first occurrence of `needle` in `body`.
    private static func end(of needle: [UInt8], in body: [UInt8]) -> Int? {
        guard body.count >= needle.count else { return nil }
        for start in 0...(body.count - needle.count) where body[start..<(start + needle.count)].elementsEqual(needle) {
            return start + needle.count
        }
        return nil
    }
}
