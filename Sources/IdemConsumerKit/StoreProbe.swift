import IdemConcurrency

/// How a paused consumer probes the dedup store until it answers again.
public enum StoreProbe {
    /// The delays between probes: from 200 ms, doubling up to 5 s.
    public static var backoff: Backoff { Backoff(initial: .milliseconds(200), maximum: .seconds(5)) }
}
