import IdemCore

/// A broker adapter was handed a consumer of another source kind (a registry that maps a
/// kind to the wrong adapter).
public struct AdapterMismatch: Error, Sendable, Hashable, CustomStringConvertible {
    /// The consumer.
    public var consumer: String
    /// Its source kind.
    public var kind: SourceKind
    /// The adapter's kind.
    public var adapter: SourceKind

    /// The mismatch of `consumer`, of `kind`, handed to the adapter of `adapter`.
    public init(consumer: String, kind: SourceKind, adapter: SourceKind) {
        self.consumer = consumer
        self.kind = kind
        self.adapter = adapter
    }

    /// A sentence naming both kinds.
    public var description: String {
        "consumer \(consumer): its source is '\(kind)', but the '\(adapter)' adapter was asked to run it"
    }
}
