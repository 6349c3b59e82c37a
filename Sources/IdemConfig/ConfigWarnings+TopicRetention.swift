import IdemCore

extension ConfigWarnings {
    /// The warning when `consumer`'s dedup retention is shorter than the retention of
    /// `topic`, one of its Kafka topics; `nil` when it is not.
    ///
    /// A group whose committed offsets are lost or reset (offsets expired after the group
    /// was idle past `offsets.retention.minutes`, `auto.offset.reset=earliest`, an operator
    /// resetting them) reads again every record the topic still holds, and the records whose
    /// rows were swept are processed again. Offset-mode consumers (`id: [offset]`) are never
    /// warned about: their next offsets live in `<table>_offsets`, which is never swept, so
    /// they do not depend on the group's committed offsets.
    public static func topicRetentionWarning(
        consumer: ConsumerConfig, topic: String, retention: TopicRetention
    ) -> String? {
        guard consumer.identity.sources.first != .offset else { return nil }
        switch retention {
        case .limited(let topicRetention) where consumer.dedup.retention >= topicRetention:
            return nil
        default:
            return
                "consumers.\(consumer.name).dedup.retention (\(DurationParser.format(consumer.dedup.retention))) is shorter than the retention of topic \(topic) (\(retention)): if the group's committed offsets are lost or reset, records still in the topic whose rows were swept would be processed again"
        }
    }
}
