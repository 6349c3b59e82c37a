import CRdKafka
import Logging

/// The librdkafka calls that change a consumer's assignment, for the eager and the
/// cooperative rebalance protocols.
enum KafkaAssignment {
    /// Whether the group uses the cooperative (incremental) protocol; `false` for eager
    /// and before the consumer joined.
    static func isCooperative(_ handle: OpaquePointer) -> Bool {
        guard let name = rd_kafka_rebalance_protocol(handle) else { return false }
        return String(cString: name) == "COOPERATIVE"
    }

    /// The current assignment, sorted; empty if it cannot be read.
    static func current(of handle: OpaquePointer) -> [KafkaTopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        return KafkaPartitionList(taking: list).entries.map(\.partition).sorted()
    }

    /// Applies a reported rebalance: for an assignment, `rd_kafka_assign` (eager) or
    /// `rd_kafka_incremental_assign` (cooperative) with each partition unpaused and starting
    /// at `startOffsets[partition]` or else `RD_KAFKA_OFFSET_INVALID` (the committed offset,
    /// or `auto.offset.reset`); for a revocation, `rd_kafka_assign(NULL)` or
    /// `rd_kafka_incremental_unassign`.
    static func apply(
        _ rebalance: KafkaRebalance, to handle: OpaquePointer,
        startOffsets: [KafkaTopicPartition: Int64]
    ) throws(KafkaError) {
        let cooperative = isCooperative(handle)
        switch rebalance {
        case .assign(let partitions):
            // librdkafka keeps a pause through unassign and assign: a partition paused
            // before it was revoked would come back paused, and nobody would resume it.
            // Resuming first (before fetching starts) makes every newly assigned partition
            // start unpaused. Partitions that were never paused ignore it.
            if !partitions.isEmpty {
                _ = KafkaPartitionList(partitions).withPointer { rd_kafka_resume_partitions(handle, $0) }
            }
            let list = KafkaPartitionList(partitions, offsets: startOffsets)
            let what = "could not assign \(describe(partitions)) after a rebalance"
            if cooperative {
                try check(list.withPointer { rd_kafka_incremental_assign(handle, $0) }, what)
            } else {
                try check(list.withPointer { rd_kafka_assign(handle, $0) }, what)
            }
        case .revoke(let partitions):
            let what = "could not unassign \(describe(partitions)) after a rebalance"
            if cooperative {
                let list = KafkaPartitionList(partitions)
                try check(list.withPointer { rd_kafka_incremental_unassign(handle, $0) }, what)
            } else {
                try check(rd_kafka_assign(handle, nil), what)
            }
        }
    }

    /// Applies a rebalance reported while the consumer closes (or one the caller left
    /// uncompleted): whatever lets librdkafka's group handling go on without fetching more.
    /// Eager: `rd_kafka_assign(NULL)` for every event, as librdkafka does without a
    /// callback. Cooperative: the incremental call the event asks for.
    static func applyWhileClosing(
        code: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        to handle: OpaquePointer, logger: Logger
    ) {
        var failure: KafkaError?
        do throws(KafkaError) {
            if isCooperative(handle), let partitions, code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
                try check(rd_kafka_incremental_assign(handle, partitions), "could not assign while closing")
            } else if isCooperative(handle), let partitions, code == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
                try check(rd_kafka_incremental_unassign(handle, partitions), "could not unassign while closing")
            } else {
                try check(rd_kafka_assign(handle, nil), "could not unassign while closing")
            }
        } catch {
            failure = error
        }
        if let failure {
            logger.warning("Kafka rebalance while closing: \(failure.message)")
        } else {
            logger.debug(
                "Kafka rebalance while closing: applied at once",
                metadata: ["partitions": "\(KafkaPartitionList.partitions(of: partitions))"])
        }
    }

    /// Applies `event` (recorded but never completed by the caller) while the consumer
    /// closes, like ``applyWhileClosing(code:partitions:to:logger:)``.
    static func applyWhileClosing(
        _ event: KafkaRebalanceRecorder.Event, to handle: OpaquePointer, logger: Logger
    ) {
        guard !event.isApplied else { return }
        let list = KafkaPartitionList(event.rebalance.partitions)
        let code: rd_kafka_resp_err_t
        switch event.rebalance {
        case .assign: code = RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS
        case .revoke: code = RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS
        }
        list.withPointer { applyWhileClosing(code: code, partitions: $0, to: handle, logger: logger) }
    }

    /// `topic[0], topic[1]`, or `no partitions`.
    static func describe(_ partitions: [KafkaTopicPartition]) -> String {
        partitions.isEmpty ? "no partitions" : partitions.map(\.description).joined(separator: ", ")
    }

    private static func check(_ code: rd_kafka_resp_err_t, _ what: String) throws(KafkaError) {
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                kind: .rebalance, context: what, code: code, isFatal: code == RD_KAFKA_RESP_ERR__FATAL)
        }
    }

    private static func check(_ error: OpaquePointer?, _ what: String) throws(KafkaError) {
        guard let error else { return }
        throw KafkaError(kind: .rebalance, context: what, error: error)
    }
}
