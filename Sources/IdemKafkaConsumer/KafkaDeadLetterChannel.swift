import Foundation
import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemKafka
import Logging

/// The dead-letter topics of a Kafka consumer, for `idem dlq`.
///
/// Reads every partition of each dead-letter topic, one partition after the other, from
/// its low watermark to the high watermark it had when the channel opened, with a consumer
/// of its own that is assigned the partitions by hand: it joins no group and commits
/// nothing. Records cannot be taken off a topic; the replay audit is what keeps a record
/// from being replayed twice.
public actor KafkaDeadLetterChannel: DeadLetterChannel {
    private let source: KafkaSourceConfig
    private let reader: KafkaConsumer
    private let logger: Logger
    /// The partitions that hold records, in order, with the offsets to read.
    private let partitions: [(partition: KafkaTopicPartition, low: Int64, high: Int64)]
    private var producer: KafkaProducer?
    private var current = 0
    private var assigned = false
    private var nextOffset: Int64 = 0
    private var buffer: [KafkaRecord] = []
    private var bufferIndex = 0
    private var position = 0
    private var lastProgress = ContinuousClock.now

    public nonisolated let name: String
    public nonisolated let count: Int?
    public nonisolated var removesDeadLetters: Bool { false }

    /// How long a partition may yield nothing before reading it counts as failed.
    static let stallLimit = Duration.seconds(30)

    private init(
        source: KafkaSourceConfig, reader: KafkaConsumer, logger: Logger, topics: [String],
        partitions: [(partition: KafkaTopicPartition, low: Int64, high: Int64)]
    ) {
        self.source = source
        self.reader = reader
        self.logger = logger
        self.partitions = partitions
        self.name = "topic\(topics.count == 1 ? "" : "s") \(topics.joined(separator: ", "))"
        self.count = Int(partitions.reduce(0) { $0 + ($1.high - $1.low) })
    }

    /// The dead-letter topics of `source`: `<topic>.dlq` of each topic, or the one
    /// configured.
    public static func deadLetterTopics(of source: KafkaSourceConfig) -> [String] {
        var seen: Set<String> = []
        return source.topics.map(source.deadLetterTopic(for:)).filter { seen.insert($0).inserted }
    }

    /// Connects to the consumer's brokers and finds the partitions of its dead-letter
    /// topics and their offsets. A dead-letter topic that does not exist yet holds no dead
    /// letters.
    ///
    /// - Throws: ``DeadLetterChannelError`` naming the brokers when they do not answer.
    public static func open(source: KafkaSourceConfig, logger: Logger) async throws -> KafkaDeadLetterChannel {
        let topics = deadLetterTopics(of: source)
        var properties = source.properties
        properties["enable.partition.eof"] = "false"
        let reader = try await KafkaConsumer.make(
            bootstrapServers: source.brokers, groupId: "idem-dlq-\(UUID().uuidString.prefix(8))",
            configuration: properties, logger: logger)
        var partitions: [(partition: KafkaTopicPartition, low: Int64, high: Int64)] = []
        do {
            for topic in topics {
                guard let count = try await reader.partitionCount(of: topic, timeout: .seconds(10)) else {
                    logger.info("the dead-letter topic \(topic) does not exist: no dead letters")
                    continue
                }
                for index in 0..<Int32(count) {
                    let partition = KafkaTopicPartition(topic: topic, partition: index)
                    let marks = try await reader.watermarks(of: partition, timeout: .seconds(10))
                    if marks.high > marks.low { partitions.append((partition, marks.low, marks.high)) }
                }
            }
        } catch {
            await reader.close()
            throw DeadLetterChannelError(
                "could not read the dead-letter topics from the Kafka brokers \(source.brokers): \(error)")
        }
        return KafkaDeadLetterChannel(
            source: source, reader: reader, logger: logger, topics: topics, partitions: partitions)
    }

    public func next() async throws -> DeadLetter? {
        while true {
            if bufferIndex < buffer.count {
                let record = buffer[bufferIndex]
                bufferIndex += 1
                position += 1
                return Self.letter(record, position: position)
            }
            buffer.removeAll(keepingCapacity: true)
            bufferIndex = 0
            guard current < partitions.count else { return nil }
            try await readMore()
        }
    }

    /// Polls the current partition once, buffering its records up to the high watermark,
    /// and moves on to the next partition at the end.
    private func readMore() async throws {
        let (partition, low, high) = partitions[current]
        if !assigned {
            try await reader.assign([partition: low])
            assigned = true
            nextOffset = low
            lastProgress = .now
        }
        let result = try await reader.poll(maxRecords: 500, timeout: .milliseconds(500))
        let records = result.records.filter {
            $0.topicPartition == partition && $0.offset >= nextOffset && $0.offset < high
        }.sorted { $0.offset < $1.offset }
        if let last = records.last {
            buffer = records
            nextOffset = last.offset + 1
            lastProgress = .now
        } else if let fetched = try await reader.positions(of: [partition])[partition], fetched >= high {
            // The rest were not records (transaction markers, compacted away).
            nextOffset = high
        } else if ContinuousClock.now - lastProgress > Self.stallLimit {
            throw DeadLetterChannelError(
                "could not read \(partition) beyond offset \(nextOffset) (of \(high)) within \(Self.stallLimit)")
        }
        if nextOffset >= high {
            current += 1
            assigned = false
        }
    }

    public nonisolated func target(for letter: DeadLetter) throws -> String {
        if let topic = letter.metadata.sourcePosition?.stream, source.topics.contains(topic) { return topic }
        if source.topics.count == 1 { return source.topics[0] }
        throw DeadLetterChannelError(
            "cannot tell which of the topics \(source.topics.joined(separator: ", ")) \(letter.location) came from "
                + "(x-idem-source: \(letter.metadata.source ?? "absent"))")
    }

    public func republish(_ letter: DeadLetter, replayID: Int64) async throws -> String {
        guard let record = (letter.origin as? KafkaDeadLetterOrigin)?.record else {
            throw DeadLetterChannelError("\(letter.location) is not a Kafka record")
        }
        let topic = try target(for: letter)
        var headers = record.headers.filter { !DeadLetterHeaders.isIdemHeader($0.key) }
        headers.append(KafkaHeader(key: DeadLetterHeaders.replayId, text: String(replayID)))
        let producer = try await self.producerForReplays()
        let report = try await producer.produce(topic: topic, key: record.key, value: record.value, headers: headers)
        return "\(report.topic):\(report.partition):\(report.offset)"
    }

    public func remove(_ letter: DeadLetter) async throws {}

    public func close() async {
        await reader.close()
        await producer?.close()
        producer = nil
    }

    private func producerForReplays() async throws -> KafkaProducer {
        if let producer { return producer }
        let made = try await KafkaProducer.make(
            bootstrapServers: source.brokers, configuration: source.producerProperties, logger: logger)
        producer = made
        return made
    }

    private static func letter(_ record: KafkaRecord, position: Int) -> DeadLetter {
        var attributes: [(name: String, value: String)] = []
        if let key = record.key {
            attributes.append(("key", UTF8Text.decode(key) ?? "hex:" + UTF8Text.hex(key)))
        }
        attributes.append(("topic", record.topic))
        attributes.append(("partition", String(record.partition)))
        attributes.append(("offset", String(record.offset)))
        if let timestamp = record.timestamp {
            let date = Date(timeIntervalSince1970: Double(timestamp) / 1000)
            attributes.append(("timestamp", "\(date.formatted(.iso8601)) (\(timestamp) ms)"))
        }
        return DeadLetter(
            position: position, location: "\(record.topic):\(record.partition):\(record.offset)",
            headers: record.headers.map { ($0.key, $0.value.map { .bytes($0) } ?? .void) }, body: record.value ?? [],
            attributes: attributes, fallbackTime: record.timestamp.map { UInt64(max(0, $0) / 1000) },
            origin: KafkaDeadLetterOrigin(record: record))
    }
}
