/// The client library a broker adapter runs on, as `idem check-config` and the startup
/// log name it, with what to do when it is too old for some brokers.
public struct ClientLibrary: Sendable, Hashable, CustomStringConvertible {
    /// The library, e.g. `librdkafka`.
    public var name: String
    /// Its version at run time, e.g. `2.0.2`.
    public var version: String
    /// What this version cannot do and how to get past it, or `nil` when nothing is known.
    public var advice: String?

    /// A library `name` at `version`.
    public init(name: String, version: String, advice: String? = nil) {
        self.name = name
        self.version = version
        self.advice = advice
    }

    /// `name version`.
    public var description: String { "\(name) \(version)" }
}
