import IdemConsumerKit
import IdemKafka

/// A dead letter read from a Kafka dead-letter topic: the record, to produce it again.
struct KafkaDeadLetterOrigin: DeadLetterOrigin {
    var record: KafkaRecord

    func withoutBody() -> any DeadLetterOrigin {
        var record = record
        record.value = nil
        return KafkaDeadLetterOrigin(record: record)
    }

    /// `PARTITION:OFFSET`.
    var aliases: [String] { ["\(record.partition):\(record.offset)"] }
}
