import Foundation
import IdemConsumerKit
import IdemPostgresStore

/// Times of dead letters and replays as `idem dlq` prints them.
public enum EpochTime {
    /// `seconds` since the Unix epoch in ISO 8601, UTC, to the second
    /// (`2026-03-01T12:00:05Z`).
    public static func text(_ seconds: Double) -> String {
        Date(timeIntervalSince1970: seconds.rounded(.down)).formatted(.iso8601)
    }

    /// `seconds` since the Unix epoch in ISO 8601, or `unknown`.
    public static func text(_ seconds: UInt64?) -> String {
        seconds.map { text(Double($0)) } ?? "unknown"
    }
}
