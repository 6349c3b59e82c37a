import Foundation

/// Where the development services run, for the service tests.
///
/// Each value comes from the process environment or, failing that, from
/// `$IDEM_SERVICES_DIR/services.env` (default `/tmp/idem-services/services.env`), which
/// `scripts/services.sh start` writes as `KEY=VALUE` lines. A missing value is an error,
/// so the tests fail rather than skip when the services are not running.
public enum ServiceEnvironment {
    /// A setting the tests need and could not find.
    public struct MissingSetting: Error, CustomStringConvertible {
        let key: String
        let file: String

        public var description: String {
            "\(key) is not set in the environment and not defined in \(file); "
                + "start the services with `scripts/services.sh start` "
                + "(or run the tests with `scripts/test.sh`)"
        }
    }

    /// The PostgreSQL URL, e.g. `postgresql://postgres@127.0.0.1:5432/postgres`.
    public static func postgresURL() throws -> String { try value("IDEM_TEST_POSTGRES_URL") }

    /// The AMQP URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2F`.
    public static func amqpURL() throws -> String { try value("IDEM_TEST_AMQP_URL") }

    /// The Kafka bootstrap servers, e.g. `127.0.0.1:40219`: the mock broker of
    /// `scripts/services.sh`, or the external cluster of ``kafkaExternal``.
    public static func kafkaBrokers() throws -> String { try value("IDEM_TEST_KAFKA_BROKERS") }

    /// Whether `IDEM_TEST_KAFKA_EXTERNAL=1`: the Kafka end-to-end worlds then use the
    /// cluster at `IDEM_TEST_KAFKA_BROKERS` (creating their topics with the Admin API)
    /// instead of a mock cluster each, and the tests that inject faults are skipped.
    public static var kafkaExternal: Bool { (try? value("IDEM_TEST_KAFKA_EXTERNAL")) == "1" }

    /// The value of `key` from the environment, else from the services file.
    public static func value(_ key: String) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let value = environment[key], !value.isEmpty { return value }
        let directory =
            environment["IDEM_SERVICES_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "/tmp/idem-services"
        let file = directory + "/services.env"
        if let value = fileValues(file)[key], !value.isEmpty { return value }
        throw MissingSetting(key: key, file: file)
    }

    /// Parses `KEY=VALUE` lines; blank lines, `#` comments, an `export ` prefix and
    /// surrounding quotes are allowed. A missing file has no values.
    public static func fileValues(_ path: String) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst("export ".count)) }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2,
                (value.hasPrefix("\"") && value.hasSuffix("\""))
                    || (value.hasPrefix("'") && value.hasSuffix("'"))
            {
                value = String(value.dropFirst().dropLast())
            }
            values[key] = value
        }
        return values
    }
}
