/// How a consumer makes each message's effect happen once (docs/design.md, "The dedup protocol").
public enum DedupMode: String, Sendable, Hashable, CaseIterable {
    /// Claim, handler work and commit in one PostgreSQL transaction: for handlers that
    /// write to the same database. Exactly-once effects.
    case transactional
    /// Claim a lease, run the handler, mark the row done with the current fence: for
    /// handlers whose effects leave PostgreSQL. The handler passes the ID and fence on as
    /// idempotency key and fencing token.
    case lease
}
