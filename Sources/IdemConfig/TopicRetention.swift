import Foundation
import IdemCore

/// How long a Kafka topic keeps its records, read from the topic's configuration.
public enum TopicRetention: Sendable, Hashable, CustomStringConvertible {
    /// Records are deleted once older than this (`retention.ms`).
    case limited(Duration)
    /// Records are kept for ever: `retention.ms=-1`, or a compacted topic
    /// (`cleanup.policy=compact` without `delete`), which keeps each key's latest record.
    case unlimited(reason: String)

    /// The retention a topic configuration describes (`retention.ms` and `cleanup.policy`, as
    /// DescribeConfigs returns them); `nil` when `retention.ms` is missing or not a number.
    public init?(configs: [String: String]) {
        if let policy = configs["cleanup.policy"] {
            let policies = policy.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if !policies.contains("delete") {
                self = .unlimited(reason: "cleanup.policy=\(policy)")
                return
            }
        }
        guard let text = configs["retention.ms"], let milliseconds = Int64(text) else { return nil }
        if milliseconds < 0 {
            self = .unlimited(reason: "retention.ms=\(text)")
        } else {
            self = .limited(.milliseconds(milliseconds))
        }
    }

    /// `7d (retention.ms=604800000)` or `unlimited (retention.ms=-1)`.
    public var description: String {
        switch self {
        case .limited(let duration):
            return "\(DurationParser.format(duration)) (retention.ms=\(Int64((duration.seconds * 1000).rounded())))"
        case .unlimited(let reason): return "unlimited (\(reason))"
        }
    }
}
