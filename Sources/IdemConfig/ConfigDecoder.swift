import Foundation
import Yams

/// Walks a composed YAML document, converting values and collecting every problem with its
/// file, line, column and key path, so that one run of `idem check-config` reports them all.
final class ConfigDecoder {
    let file: String
    let environment: [String: String]
    private(set) var issues: [ConfigIssue] = []
    /// Variables that interpolation used, for the secrets policy of the logs.
    private(set) var usedVariables: Set<String> = []

    /// Checks librdkafka properties; returns the refused ones with the reason.
    let kafkaPropertyCheck: ConfigLoader.KafkaPropertyCheck?

    init(file: String, environment: [String: String], kafkaPropertyCheck: ConfigLoader.KafkaPropertyCheck? = nil) {
        self.file = file
        self.environment = environment
        self.kafkaPropertyCheck = kafkaPropertyCheck
    }

    func report(_ message: String, at path: ConfigPath, mark: Mark?) {
        issues.append(
            ConfigIssue(file: file, line: mark?.line, column: mark?.column, path: path, message: message))
    }

    func noteUsed(_ names: [String]) {
        usedVariables.formUnion(names)
    }
}

/// A YAML node at a key path, with conversions that report what they expected.
struct ConfigValue {
    let node: Node
    let path: ConfigPath
    let decoder: ConfigDecoder

    var mark: Mark? { node.mark }

    func report(_ message: String) {
        decoder.report(message, at: path, mark: mark)
    }

    /// A short description of what the node is, for "got …" in messages.
    var got: String {
        switch node {
        case .scalar(let scalar):
            let text = scalar.string
            return text.count > 40 ? "\"\(text.prefix(37))...\"" : "\"\(text)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// Whether the node is YAML null (`~`, `null` or empty).
    var isNull: Bool {
        guard case .scalar(let scalar) = node else { return false }
        guard scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The scalar's text after `${ENV}` interpolation, or `nil` with an issue reported.
    func text(expected: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report("expected \(expected), got \(got)")
            return nil
        }
        do {
            let (text, used) = try EnvironmentInterpolation.expand(
                scalar.string, environment: decoder.environment)
            decoder.noteUsed(used)
            return text
        } catch let error as EnvironmentInterpolation.UnsetVariable {
            report(
                "environment variable \(error.name) is not set (set it, or write ${\(error.name):-default})")
        } catch let error as EnvironmentInterpolation.Malformed {
            report(error.reason)
        } catch {
            report("\(error)")
        }
        return nil
    }

    func string(nonEmpty: Bool = true) -> String? {
        guard let text = text(expected: "a string") else { return nil }
        if nonEmpty && text.isEmpty {
            report("expected a non-empty string")
            return nil
        }
        return text
    }

    /// A non-empty string that is a secret: what is wrong with it is reported without
    /// quoting it.
    func secretText() -> String? {
        guard case .scalar = node else {
            report("expected a string, got \(got)")
            return nil
        }
        guard let text = text(expected: "a string") else { return nil }
        if text.isEmpty { report("expected a non-empty string") }
        return text.isEmpty ? nil : text
    }

    func int(in range: ClosedRange<Int>) -> Int? {
        let expected = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        guard let text = text(expected: expected) else { return nil }
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        guard let value = Int(cleaned), range.contains(value) else {
            report("expected \(expected), got \(got)")
            return nil
        }
        return value
    }

    func double(in range: ClosedRange<Double>) -> Double? {
        let expected = "a number from \(range.lowerBound) to \(range.upperBound)"
        guard let text = text(expected: expected) else { return nil }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            report("expected \(expected), got \(got)")
            return nil
        }
        return value
    }

    func bool() -> Bool? {
        guard let text = text(expected: "true or false") else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report("expected true or false, got \(got)")
            return nil
        }
    }

    func duration(atLeast minimum: Duration = .zero) -> Duration? {
        let expected = "a duration such as 250ms, 30s, 5m, 2h or 7d"
        guard let text = text(expected: expected) else { return nil }
        guard let value = DurationParser.parse(text) else {
            report("expected \(expected), got \(got)")
            return nil
        }
        guard value >= minimum else {
            report("expected a duration of at least \(DurationParser.format(minimum)), got \(got)")
            return nil
        }
        return value
    }

    func byteSize(in range: ClosedRange<Int>) -> Int? {
        let expected = "a size such as 65536, 512KiB, 16MiB or 1GiB"
        guard let text = text(expected: expected) else { return nil }
        guard let value = ByteSizeParser.parse(text) else {
            report("expected \(expected), got \(got)")
            return nil
        }
        guard range.contains(value) else {
            report("expected a size from \(range.lowerBound) to \(range.upperBound) bytes, got \(got)")
            return nil
        }
        return value
    }

    func oneOf<T: RawRepresentable<String> & CaseIterable>(_ type: T.Type) -> T? {
        let names = T.allCases.map(\.rawValue)
        guard let text = text(expected: "one of " + names.joined(separator: ", ")) else { return nil }
        if let value = T(rawValue: text) { return value }
        var message = "expected one of \(names.joined(separator: ", ")), got \(got)"
        if let suggestion = KeySuggestion.nearest(to: text, in: names) {
            message += "; did you mean '\(suggestion)'?"
        }
        report(message)
        return nil
    }

    /// The node as a list, each element with its path; `nil` with an issue if not a list.
    func list() -> [ConfigValue]? {
        guard case .sequence(let sequence) = node else {
            report("expected a list, got \(got)")
            return nil
        }
        return sequence.enumerated().map { index, element in
            ConfigValue(node: element, path: path.appending(index: index), decoder: decoder)
        }
    }

    /// A list of strings, or a single string taken as a one-element list.
    func stringList() -> [String]? {
        if case .scalar = node { return string().map { [$0] } }
        guard let items = list() else { return nil }
        let strings = items.compactMap { $0.string() }
        return strings.count == items.count ? strings : nil
    }

    /// The node as a mapping that accepts only `keys`; unknown keys are reported with the
    /// nearest valid key.
    func mapping(keys: [String]) -> ConfigMapping? {
        guard case .mapping(let mapping) = node else {
            report("expected a mapping with keys \(keys.joined(separator: ", ")), got \(got)")
            return nil
        }
        var entries: [(String, ConfigValue)] = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                decoder.report("mapping keys must be plain strings", at: path, mark: keyNode.mark)
                continue
            }
            let key = keyScalar.string
            let child = ConfigValue(node: valueNode, path: path.appending(key), decoder: decoder)
            guard keys.contains(key) else {
                var message = "unknown key '\(key)'"
                if let suggestion = KeySuggestion.nearest(to: key, in: keys) {
                    message += "; did you mean '\(suggestion)'?"
                } else {
                    message += " (valid keys: \(keys.joined(separator: ", ")))"
                }
                decoder.report(message, at: path.appending(key), mark: keyNode.mark)
                continue
            }
            entries.append((key, child))
        }
        return ConfigMapping(value: self, entries: entries)
    }

    /// The entries of a free-form mapping of scalar values (e.g. Kafka properties).
    /// Reports `message` at the entry `key` of this mapping (or at the mapping itself).
    func report(_ message: String, atKey key: String) {
        if case .mapping(let mapping) = node,
            let (keyNode, valueNode) = mapping.first(where: { $0.key.scalar?.string == key })
        {
            decoder.report(message, at: path.appending(key), mark: valueNode.mark ?? keyNode.mark)
        } else {
            report(message)
        }
    }

    func stringMap() -> [String: String]? {
        guard case .mapping(let mapping) = node else {
            report("expected a mapping of names to values, got \(got)")
            return nil
        }
        var result: [String: String] = [:]
        var ok = true
        for (keyNode, valueNode) in mapping {
            let key = keyNode.scalar?.string ?? ""
            let child = ConfigValue(node: valueNode, path: path.appending(key), decoder: decoder)
            if let value = child.text(expected: "a scalar value") { result[key] = value } else { ok = false }
        }
        return ok ? result : nil
    }
}

/// A mapping's known entries, looked up by key.
struct ConfigMapping {
    let value: ConfigValue
    let entries: [(String, ConfigValue)]

    var path: ConfigPath { value.path }

    subscript(key: String) -> ConfigValue? {
        guard let entry = entries.first(where: { $0.0 == key })?.1, !entry.isNull else { return nil }
        return entry
    }

    func has(_ key: String) -> Bool { self[key] != nil }

    /// The value at `key`; reports "missing required key" when it is absent.
    func required(_ key: String, what: String) -> ConfigValue? {
        if let entry = self[key] { return entry }
        value.report("missing required key '\(key)' (\(what))")
        return nil
    }
}
