import CRdKafka

/// The librdkafka the process runs on (which may be newer than the headers it was built
/// against: the loader picks the first `librdkafka.so.1` on the library path).
public enum KafkaLibrary {
    /// The version, e.g. `2.0.2`.
    public static var version: String { String(cString: rd_kafka_version_str()) }

    /// The version as `(major, minor, revision)`.
    public static var versionParts: (major: Int, minor: Int, revision: Int) {
        let number = Int(rd_kafka_version())
        return ((number >> 24) & 0xff, (number >> 16) & 0xff, (number >> 8) & 0xff)
    }

    /// Whether the version is at least `major.minor`.
    public static func isAtLeast(_ major: Int, _ minor: Int) -> Bool {
        let parts = versionParts
        return (parts.major, parts.minor) >= (major, minor)
    }
}
