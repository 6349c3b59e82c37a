import Foundation
import IdemCore
import Yams

/// Reads and validates `worker.yaml`.
///
/// Every problem is collected, with the file, line, column, key path and what was expected,
/// before anything connects; a config that loads is complete and consistent.
public enum ConfigLoader {
    /// Checks the librdkafka properties of a Kafka source and returns those refused, each
    /// with the reason (the Kafka client provides it; the configuration module does not
    /// link librdkafka).
    public typealias KafkaPropertyCheck = @Sendable ([String: String]) -> [String: String]

    /// Reads the file at `path` and decodes it; `kafkaPropertyCheck` validates the
    /// pass-through properties of Kafka sources.
    public static func load(
        file path: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        kafkaPropertyCheck: KafkaPropertyCheck? = nil
    ) throws(ConfigError) -> WorkerConfig {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw ConfigError(issues: [
                    ConfigIssue(file: path, line: nil, column: nil, path: .root, message: "the file is not valid UTF-8")
                ])
            }
            text = decoded
        } catch let error as ConfigError {
            throw error
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw ConfigError(issues: [
                ConfigIssue(
                    file: path, line: nil, column: nil, path: .root, message: "the configuration file \(reason)")
            ])
        }
        return try parse(yaml: text, file: path, environment: environment, kafkaPropertyCheck: kafkaPropertyCheck)
    }

    /// Decodes a configuration from YAML text; `file` names it in errors.
    public static func parse(
        yaml text: String, file: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        kafkaPropertyCheck: KafkaPropertyCheck? = nil
    ) throws(ConfigError) -> WorkerConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(issues: [
                    ConfigIssue(
                        file: file, line: nil, column: nil, path: .root,
                        message: "the file is empty; expected a mapping with keys postgres and consumers")
                ])
            }
            root = node
        } catch let error as ConfigError {
            throw error
        } catch let error as YamlError {
            throw ConfigError(issues: [yamlIssue(error, file: file)])
        } catch {
            throw ConfigError(issues: [
                ConfigIssue(file: file, line: nil, column: nil, path: .root, message: "invalid YAML: \(error)")
            ])
        }
        let decoder = ConfigDecoder(file: file, environment: environment, kafkaPropertyCheck: kafkaPropertyCheck)
        let config = WorkerConfigDecoding.decode(
            ConfigValue(node: root, path: .root, decoder: decoder), file: file)
        let issues = decoder.issues.sorted { ($0.line ?? 0, $0.column ?? 0) < ($1.line ?? 0, $1.column ?? 0) }
        guard issues.isEmpty, var config else {
            throw ConfigError(issues: issues)
        }
        config.interpolatedVariables = decoder.usedVariables
        return config
    }

    private static func yamlIssue(_ error: YamlError, file: String) -> ConfigIssue {
        func issue(_ problem: String, _ mark: Mark, _ context: YamlError.Context?) -> ConfigIssue {
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line))" }
            return ConfigIssue(file: file, line: mark.line, column: mark.column, path: .root, message: message)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return issue(problem, mark, context)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return issue(
                "key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) appears more than once", context.mark, nil)
        default:
            return ConfigIssue(file: file, line: nil, column: nil, path: .root, message: "invalid YAML: \(error)")
        }
    }
}
