import IdemConfig
import IdemCore

/// The broker adapters a worker can run, by source kind: the executable fills it (as it
/// fills the `HandlerRegistry` of Swift handlers), the runtime looks consumers up in it.
public struct BrokerRegistry: Sendable {
    private var adapters: [SourceKind: any BrokerAdapter] = [:]

    /// A registry of `adapters`; a later one replaces an earlier one of the same kind.
    public init(_ adapters: [any BrokerAdapter] = []) {
        for adapter in adapters { register(adapter) }
    }

    /// Adds `adapter` for its kind, replacing one registered before.
    public mutating func register(_ adapter: any BrokerAdapter) {
        adapters[adapter.kind] = adapter
    }

    /// The kinds registered, in name order.
    public var kinds: [SourceKind] { adapters.keys.sorted() }

    /// The adapter of `kind`, if registered.
    public subscript(kind: SourceKind) -> (any BrokerAdapter)? { adapters[kind] }

    /// The adapter of `consumer`'s source.
    ///
    /// - Throws: ``BrokerRegistryError`` naming the consumer, its kind and the kinds there
    ///   are, when no adapter of its kind is registered.
    public func adapter(for consumer: ConsumerConfig) throws(BrokerRegistryError) -> any BrokerAdapter {
        let kind = consumer.source.kind
        guard let adapter = adapters[kind] else {
            throw BrokerRegistryError(consumer: consumer.name, kind: kind, registered: kinds)
        }
        return adapter
    }
}
