import Foundation

/// `${NAME}` and `${NAME:-default}` in configuration values, from the environment.
///
/// `$$` stands for a literal `$`; a `$` followed by anything else is kept as it is.
/// `${NAME:-default}` uses the default when `NAME` is unset or empty, as shells do.
public enum EnvironmentInterpolation {
    /// A reference to a variable that is not set and has no default.
    public struct UnsetVariable: Error, Sendable, Hashable {
        /// The variable's name.
        public var name: String
    }

    /// A malformed reference, such as `${` without `}` or `${1X}`.
    public struct Malformed: Error, Sendable, Hashable {
        /// What is wrong.
        public var reason: String
    }

    /// The text with every reference replaced.
    public static func expand(
        _ text: String, environment: [String: String]
    ) throws -> (text: String, usedVariables: [String]) {
        guard text.contains("$") else { return (text, []) }
        var out = ""
        var used: [String] = []
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "$" else {
                out.append(character)
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            if next < text.endIndex, text[next] == "$" {
                out.append("$")
                index = text.index(after: next)
                continue
            }
            guard next < text.endIndex, text[next] == "{" else {
                out.append("$")
                index = next
                continue
            }
            guard let close = text[next...].firstIndex(of: "}") else {
                throw Malformed(reason: "'${' without a closing '}'")
            }
            let inner = text[text.index(after: next)..<close]
            let name: Substring
            let fallback: Substring?
            if let separator = inner.range(of: ":-") {
                name = inner[..<separator.lowerBound]
                fallback = inner[separator.upperBound...]
            } else {
                name = inner
                fallback = nil
            }
            guard isValidName(name) else {
                throw Malformed(
                    reason: "'${\(inner)}' is not a variable reference: expected ${NAME} or ${NAME:-default}")
            }
            let value = environment[String(name)]
            used.append(String(name))
            if let fallback, value == nil || value!.isEmpty {
                out += fallback
            } else if let value {
                out += value
            } else {
                throw UnsetVariable(name: String(name))
            }
            index = text.index(after: close)
        }
        return (out, used)
    }

    private static func isValidName(_ name: Substring) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return name.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
        }
    }
}
