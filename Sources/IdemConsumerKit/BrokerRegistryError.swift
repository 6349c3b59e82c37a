import IdemCore

/// A consumer's source is of a kind no registered broker adapter handles (a program
/// embedding idem left it out of its ``BrokerRegistry``).
public struct BrokerRegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The consumer.
    public var consumer: String
    /// Its source kind.
    public var kind: SourceKind
    /// The kinds registered.
    public var registered: [SourceKind]

    /// A sentence naming the consumer, the kind and what is registered.
    public var description: String {
        let known = registered.isEmpty ? "none" : registered.map(\.rawValue).joined(separator: ", ")
        return "consumer \(consumer): no broker adapter for '\(kind)' sources is registered (registered: \(known))"
    }
}
