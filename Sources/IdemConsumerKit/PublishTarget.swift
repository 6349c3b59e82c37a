import IdemCore

/// Where `idem publish` and `idem replay` send messages (a queue, a topic), as a broker
/// adapter reads it from a consumer or from a URL (``BrokerAdapter/publishTarget(url:queue:)``).
public struct PublishTarget: Sendable {
    /// The broker's kind: the adapter that sends.
    public var kind: SourceKind
    /// The queue or topic, as messages name their source.
    public var destination: String
    /// Where the messages go, for people, with any password shown as `***`.
    public var shown: String
    /// The adapter's own form of the target (URL, TLS, client properties); only the adapter
    /// that made it reads it.
    public var settings: any Sendable

    /// A target of the adapter of `kind`.
    public init(kind: SourceKind, destination: String, shown: String, settings: any Sendable) {
        self.kind = kind
        self.destination = destination
        self.shown = shown
        self.settings = settings
    }
}
