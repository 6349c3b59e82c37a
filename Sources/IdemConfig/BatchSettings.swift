/// How many messages are claimed in one database round trip.
public struct BatchSettings: Sendable, Hashable {
    /// The most messages in one claim.
    public var size: Int
    /// The longest wait for a batch to fill.
    public var maxWait: Duration

    /// Creates settings; defaults: 100 messages or 10 ms, whichever comes first.
    public init(size: Int = 100, maxWait: Duration = .milliseconds(10)) {
        self.size = size
        self.maxWait = maxWait
    }
}
