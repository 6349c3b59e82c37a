import CRdKafka
import Logging
import Synchronization

/// Keeps the rebalances that librdkafka reports to a consumer's rebalance callback until
/// ``KafkaConsumer/poll(maxRecords:timeout:)`` returns them, so that the caller decides
/// when the assignment changes.
///
/// The callback runs on the consumer's thread, inside `rd_kafka_consume_batch_queue` or
/// `rd_kafka_consumer_close`. While the consumer closes, nobody would complete a recorded
/// rebalance, so the callback applies it at once instead.
package final class KafkaRebalanceRecorder: Sendable {
    /// One reported rebalance.
    struct Event: Sendable, Equatable {
        /// What changed.
        var rebalance: KafkaRebalance
        /// Whether the revoked partitions were lost (`rd_kafka_assignment_lost`).
        var assignmentLost: Bool
        /// Whether the assignment was already changed (after a rebalance error the callback
        /// unassigns by itself), so completing the event changes nothing.
        var isApplied: Bool
    }

    private struct State {
        var isClosing = false
        var events: [Event] = []
    }

    private let state = Mutex(State())

    /// Whether the consumer is closing: the callback then applies rebalances itself.
    var isClosing: Bool { state.withLock { $0.isClosing } }

    /// Makes the callback apply rebalances itself from now on.
    func beginClosing() {
        state.withLock { $0.isClosing = true }
    }

    /// Keeps `event` for the next poll.
    func record(_ event: Event) {
        state.withLock { $0.events.append(event) }
    }

    /// Removes and returns the oldest event not yet reported.
    func next() -> Event? {
        state.withLock { $0.events.isEmpty ? nil : $0.events.removeFirst() }
    }

    /// Removes and returns every event not yet reported, oldest first.
    func takeAll() -> [Event] {
        state.withLock { state in
            defer { state.events.removeAll() }
            return state.events
        }
    }
}

/// librdkafka's rebalance callback: records the rebalance for the next poll (or, while the
/// consumer closes, applies it at once). Runs on the consumer's thread.
func kafkaRebalanceCallback(
    _ handle: OpaquePointer?, _ code: rd_kafka_resp_err_t,
    _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
    _ opaque: UnsafeMutableRawPointer?
) {
    guard let handle else { return }
    guard let opaque else {
        _ = rd_kafka_assign(handle, nil)
        return
    }
    let context = Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
    let logger = context.logger
    let list = KafkaPartitionList.partitions(of: partitions)
    guard let recorder = context.rebalances, !recorder.isClosing else {
        KafkaAssignment.applyWhileClosing(code: code, partitions: partitions, to: handle, logger: logger)
        return
    }
    switch code {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        logger.debug("Kafka rebalance: partitions assigned", metadata: ["partitions": "\(list)"])
        recorder.record(.init(rebalance: .assign(list), assignmentLost: false, isApplied: false))
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        let lost = rd_kafka_assignment_lost(handle) != 0
        if lost {
            logger.warning(
                "Kafka rebalance: partitions lost (the group gave them to another member); commits for them will fail",
                metadata: ["partitions": "\(list)"])
        } else {
            logger.debug("Kafka rebalance: partitions revoked", metadata: ["partitions": "\(list)"])
        }
        recorder.record(.init(rebalance: .revoke(list), assignmentLost: lost, isApplied: false))
    default:
        // Neither assign nor revoke: librdkafka asks for rd_kafka_assign(NULL) to
        // resynchronise. Report the partitions this drops as revoked (and lost).
        let previous = KafkaAssignment.current(of: handle)
        logger.error(
            "Kafka rebalance failed; unassigning all partitions",
            metadata: [
                "error": "\(String(cString: rd_kafka_err2str(code)))",
                "code": "\(String(cString: rd_kafka_err2name(code)))", "partitions": "\(previous)",
            ])
        let result = rd_kafka_assign(handle, nil)
        if result != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.error(
                "Kafka unassign after a failed rebalance failed",
                metadata: ["error": "\(String(cString: rd_kafka_err2str(result)))"])
        }
        if !previous.isEmpty {
            recorder.record(.init(rebalance: .revoke(previous), assignmentLost: true, isApplied: true))
        }
    }
}
