import IdemCore

/// One consumer: where its messages come from, how they are identified and handled, and
/// the policies for what goes wrong.
public struct ConsumerConfig: Sendable {
    /// The consumer's name; it scopes message IDs in the dedup table.
    public var name: String
    /// The broker and queue or topics.
    public var source: SourceConfig
    /// The ID sources, in order.
    public var identity: IdentityChain
    /// The handler that performs each message's effect.
    public var handler: HandlerConfig
    /// Dedup mode and its settings.
    public var dedup: DedupSettings
    /// Attempts and backoff for transient failures.
    public var retry: RetryPolicy
    /// Messages handled at the same time.
    public var concurrency: Int
    /// How claims are batched.
    public var batch: BatchSettings
    /// The largest body accepted; a larger one is dead-lettered as poison.
    public var maxBodyBytes: Int

    /// Creates a consumer configuration.
    public init(
        name: String, source: SourceConfig, identity: IdentityChain, handler: HandlerConfig,
        dedup: DedupSettings = DedupSettings(), retry: RetryPolicy = .default, concurrency: Int = 4,
        batch: BatchSettings = BatchSettings(), maxBodyBytes: Int = 16 << 20
    ) {
        self.name = name
        self.source = source
        self.identity = identity
        self.handler = handler
        self.dedup = dedup
        self.retry = retry
        self.concurrency = concurrency
        self.batch = batch
        self.maxBodyBytes = maxBodyBytes
    }

    /// The outcome policy this consumer's settings describe.
    public var outcomePolicy: OutcomePolicy {
        OutcomePolicy(retry: retry, onPayloadConflict: dedup.onPayloadConflict)
    }
}
