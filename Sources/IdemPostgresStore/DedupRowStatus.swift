import IdemConsumerKit

/// The `status` of a row of the dedup table.
public enum DedupRowStatus: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Claimed under a lease (lease mode), or by a crashed worker whose lease expired.
    case processing
    /// Handled: redeliveries are duplicates.
    case done
    /// Failed with attempts left: a redelivery is claimed again and counts the attempt.
    case failed
    /// Dead-lettered (rejected, poison, out of attempts or a payload conflict).
    case dead

    /// In the order of the row's life: processing, done, failed, dead.
    public static func < (lhs: DedupRowStatus, rhs: DedupRowStatus) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
