/// What claiming an ID in the dedup table found.
public enum ClaimResult: Sendable, Hashable {
    /// The ID is this worker's to process: new, failed before, or an expired lease taken
    /// over. `attempt` counts across redeliveries; `fence` increases with every claim.
    case claimed(attempt: Int, fence: Int64)
    /// The ID is done (or dead-lettered): a duplicate.
    case duplicate
    /// The ID is done, but with another payload hash.
    case payloadConflict(storedHash: String)
    /// Lease mode: another worker holds a live lease for `remaining` more.
    case held(remaining: Duration)
}
