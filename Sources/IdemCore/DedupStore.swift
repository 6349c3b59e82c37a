/// The `processed_messages` table, as the runtime uses it (implemented over PostgreSQL in
/// the runtime; the core only states the contract).
public protocol DedupStore: Sendable {
    /// Transactional mode: in one transaction, claims `requests` in sorted ID order, runs
    /// `handler` for each claimed one, in the order of `requests`, with the open
    /// transaction, records failures, and commits. A failure on the last allowed attempt
    /// (`maxAttempts`) or a reject marks the row dead-lettered. The results are in the
    /// order of `requests`; nothing is committed if the call throws.
    ///
    /// With `keepOrder` (lanes of a log), a transient failure with attempts left ends its
    /// lane (``OrderingLane``) there: the messages after it in the same lane take no effect
    /// and come back as ``TransactionalOutcome/deferred``, to be processed again after it.
    /// The other lanes of the batch are processed as if it were not there.
    func processTransactionally(
        consumer: String, _ requests: [ClaimRequest], maxAttempts: Int, handler: any MessageHandler, keepOrder: Bool
    ) async throws(DedupStoreError) -> [TransactionalOutcome]

    /// Lease mode: claims `requests` in one round trip with a lease of `lease`.
    func claimLeases(
        consumer: String, _ requests: [ClaimRequest], lease: Duration
    ) async throws(DedupStoreError) -> [ClaimResult]

    /// Lease mode: marks the ID done if `fence` is still the current one; false when a
    /// newer claim has taken the row over (a stale fence).
    func complete(consumer: String, id: MessageID, fence: Int64) async throws(DedupStoreError) -> Bool

    /// Lease mode: records a failed attempt (`lastError`) and releases the lease if `fence`
    /// is still current; `final` marks the row dead-lettered. False for a stale fence.
    func recordFailure(
        consumer: String, id: MessageID, fence: Int64, lastError: String, final: Bool
    ) async throws(DedupStoreError) -> Bool

    /// Ends several lease-mode claims in one round trip. Each row is updated only while it
    /// is still `processing` under the outcome's fence; returns the IDs updated (an ID
    /// missing from the result was taken over by another worker: its completion is
    /// refused).
    func finishLeases(consumer: String, _ outcomes: [LeaseOutcome]) async throws(DedupStoreError) -> Set<String>

    /// Records that the dead letters of `ids` (rows given up on, `dead`) were confirmed by
    /// the broker, so that a redelivery of one is acknowledged
    /// (``ClaimResult/deadLetterConfirmed``) instead of dead-lettered again. Called after
    /// the broker's confirm and before the original is acknowledged: only a crash between
    /// the two leaves a second copy in the dead letters.
    func confirmDeadLetters(consumer: String, ids: [MessageID]) async throws(DedupStoreError)

    /// When each of `ids` was first seen (its row created), in seconds since the Unix epoch,
    /// by ID text; IDs without a row are left out. Dead letters carry it as
    /// `x-idem-first-seen`.
    func firstSeen(consumer: String, ids: [MessageID]) async throws(DedupStoreError) -> [String: UInt64]

    /// Offset mode (consumers of a log-style broker keyed by `offset`): processes consecutive
    /// records of one lane, in offset order, keeping the lane's next offset in one row written
    /// in the same transaction instead of a row per message.
    ///
    /// Records below the stored next offset are duplicates. The others run through
    /// `handler` in order until one does not succeed: a transient failure with attempts left
    /// stores its offset as the next one (with the attempt); a reject, a final failure or a
    /// record in `poison` stores it as dead, to be dead-lettered and then released with
    /// ``releaseDeadOffset(consumer:at:)``. The records after that one
    /// come back ``TransactionalOutcome/deferred``. A record found dead at the next offset
    /// (dead-lettered before, maybe not completely) comes back
    /// ``ClaimResult/deadLettered(attempts:lastError:)``.
    func processOffsets(
        consumer: String, _ requests: [ClaimRequest], poison: [Int: PoisonReason], maxAttempts: Int,
        handler: any MessageHandler
    ) async throws(DedupStoreError) -> [TransactionalOutcome]

    /// Offset mode: marks the dead record at `position` done once its dead letter is
    /// published: the lane's next offset moves past it.
    func releaseDeadOffset(consumer: String, at position: LogPosition) async throws(DedupStoreError)

    /// Offset mode: the stored next offset of each lane of `stream` that has one, by lane;
    /// the consumer starts reading there when the lane is assigned.
    func storedOffsets(consumer: String, stream: String) async throws(DedupStoreError) -> [Int32: Int64]

    /// Stores where `consumer` resumes reading a lane of `stream` (a RabbitMQ stream):
    /// `next` is the offset below which every record is settled. The stored offset only
    /// moves forward; ``storedOffsets(consumer:stream:)`` reads it back.
    func storeResumeOffset(consumer: String, stream: String, lane: Int32, next: Int64) async throws(DedupStoreError)

    /// Checks that the store answers; throws a ``DedupStoreError`` with code
    /// ``DedupStoreError/Code/unavailable`` when not.
    func probe() async throws(DedupStoreError)

    /// Deletes done and dead-lettered rows of `consumer` not updated for `age`, at most
    /// `batchSize` rows per statement so that no lock is held long; returns the count.
    func deleteExpired(consumer: String, olderThan age: Duration, batchSize: Int) async throws(DedupStoreError) -> Int
}

extension DedupStore {
    /// Transactional mode without keeping order: every message of the batch is processed
    /// (see ``processTransactionally(consumer:_:maxAttempts:handler:keepOrder:)``).
    public func processTransactionally(
        consumer: String, _ requests: [ClaimRequest], maxAttempts: Int, handler: any MessageHandler
    ) async throws(DedupStoreError) -> [TransactionalOutcome] {
        try await processTransactionally(
            consumer: consumer, requests, maxAttempts: maxAttempts, handler: handler, keepOrder: false)
    }
}
