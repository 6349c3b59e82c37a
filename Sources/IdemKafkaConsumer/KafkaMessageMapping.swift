import IdemConfig
import IdemCore
import IdemKafka

/// Turns Kafka records into the core's ``Message``, and `x-idem-*` headers into Kafka
/// headers.
enum KafkaMessageMapping {
    static func message(_ record: KafkaRecord) -> Message {
        var headers: [String: HeaderValue] = [:]
        // Kafka allows a name more than once; the last value wins, as Message documents.
        for header in record.headers {
            headers[header.key] = header.value.map { .bytes($0) } ?? .void
        }
        return Message(
            body: record.value ?? [], headers: headers, key: record.key,
            source: source(topic: record.topic, partition: record.partition, offset: record.offset))
    }

    /// The source of the record at `topic`/`partition`/`offset`: `TOPIC:PARTITION:OFFSET`.
    static func source(topic: String, partition: Int32, offset: Int64) -> MessageSource {
        MessageSource(
            kind: .kafka, position: LogPosition(stream: topic, lane: partition, offset: offset),
            features: KafkaSourceConfig.messageFeatures)
    }

    /// The headers of a dead letter: the original ones, then the `x-idem-*` ones (as text).
    /// Of the record's own `x-idem-*` headers only `x-idem-replay-id` is kept: it names the
    /// replay this record came from (see `idem dlq replay`).
    static func deadLetterHeaders(_ record: KafkaRecord, idem: [(String, HeaderValue)]) -> [KafkaHeader] {
        record.headers.filter { !DeadLetterHeaders.isIdemHeader($0.key) || $0.key == DeadLetterHeaders.replayId }
            + idem.map { name, value in KafkaHeader(key: name, text: value.identityText ?? "") }
    }
}
