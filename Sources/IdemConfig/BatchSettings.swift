/// How many messages are claimed in one database round trip.
///
/// Batches adapt to the load: a batch waits (at most `maxWait`) only to fill `size`
/// messages; when more are already waiting, it takes up to `maxSize` at once. A light load
/// gets small batches and low latency, a backlog gets large batches and throughput, with
/// no tuning.
public struct BatchSettings: Sendable, Hashable {
    /// How many messages a batch waits for (at most `maxWait`) before it is processed.
    public var size: Int
    /// The most messages one batch takes when more than `size` are waiting; never below
    /// `size` (``limit``).
    public var maxSize: Int
    /// The longest wait for a batch to fill.
    public var maxWait: Duration

    /// The default `maxSize`: 1,000 messages.
    public static let defaultMaxSize = 1000

    /// Creates settings; defaults: a batch waits up to 10 ms for 100 messages and takes up
    /// to 1,000 when that many wait.
    public init(size: Int = 100, maxSize: Int = BatchSettings.defaultMaxSize, maxWait: Duration = .milliseconds(10)) {
        self.size = size
        self.maxSize = maxSize
        self.maxWait = maxWait
    }

    /// The most messages one batch takes: `maxSize`, or `size` when that is larger.
    public var limit: Int { max(size, maxSize) }

    /// How many messages the next batch waits for, after one that waited for `target` and
    /// took `taken`: a batch that filled means a backlog, so the next waits (at most
    /// `maxWait`) for ``limit``; one that did not fill means the source keeps up, so the
    /// next waits for `size` again. The first batch waits for `size`.
    public func nextTarget(after taken: Int, target: Int) -> Int {
        taken >= target ? limit : size
    }
}
