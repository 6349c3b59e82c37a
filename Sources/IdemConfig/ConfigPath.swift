/// A key path into the configuration file, such as `consumers[0].retry.max_attempts`.
public struct ConfigPath: Sendable, Hashable, CustomStringConvertible {
    /// One step of a path.
    public enum Component: Sendable, Hashable {
        /// A mapping key.
        case key(String)
        /// A sequence index.
        case index(Int)
    }

    /// The steps from the document root.
    public var components: [Component]

    /// The document root.
    public static let root = ConfigPath(components: [])

    /// Creates a path.
    public init(components: [Component]) {
        self.components = components
    }

    /// The path one key deeper.
    public func appending(_ key: String) -> ConfigPath {
        ConfigPath(components: components + [.key(key)])
    }

    /// The path one index deeper.
    public func appending(index: Int) -> ConfigPath {
        ConfigPath(components: components + [.index(index)])
    }

    /// Dotted form; `(top level)` for the root.
    public var description: String {
        guard !components.isEmpty else { return "(top level)" }
        var out = ""
        for component in components {
            switch component {
            case .key(let key):
                if !out.isEmpty { out += "." }
                out += key
            case .index(let index):
                out += "[\(index)]"
            }
        }
        return out
    }
}
