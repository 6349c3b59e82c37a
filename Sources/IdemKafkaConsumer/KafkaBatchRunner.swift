import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemKafka
import Logging

/// Runs the batches of the partition workers: each worker's records in order, a batch at a
/// time, up to `concurrency` transactions of all partitions at once.
///
/// In transactional mode the batches that wait for a turn are merged: a turn takes every
/// partition's batch waiting (``KafkaBatchQueue``) and claims and handles them in one
/// transaction that keeps the order of each partition (a transient failure ends its
/// partition's part there, ``OrderingLane``). Under load the store thus sees a few large
/// transactions instead of many small ones. Lease and offset modes take one partition per
/// transaction. Dead letters are produced and their delivery reports awaited; then each
/// partition's committable offset moves past the records done. What only the poll loop may
/// do (pause, seek back, resume after a backoff; pause everything while the store is away)
/// is posted to the ``KafkaInbox`` as an event.
struct KafkaBatchRunner: Sendable {
    let context: ConsumerContext
    let source: KafkaSourceConfig
    let producer: KafkaProducer
    let processor: BatchProcessor
    let queue: KafkaBatchQueue
    let inbox: KafkaInbox

    private var consumer: ConsumerConfig { context.consumer }
    private var logger: Logger { context.logger }

    init(context: ConsumerContext, source: KafkaSourceConfig, producer: KafkaProducer, inbox: KafkaInbox) {
        self.context = context
        self.source = source
        self.producer = producer
        self.processor = context.makeBatchProcessor()
        let merges = !processor.offsetMode && context.consumer.dedup.mode == .transactional
        self.queue = KafkaBatchQueue(
            turns: context.consumer.concurrency, maxRecords: context.consumer.batch.limit,
            maxBatches: merges ? Int.max : 1)
        self.inbox = inbox
    }

    /// Whether the consumer keeps its place in the store (offset mode).
    var offsetMode: Bool { processor.offsetMode }

    /// Processes `worker`'s batches until it stops.
    ///
    /// Batches adapt to the partition's load: a batch waits (at most `batch.max_wait`) to
    /// fill `batch.size`; once one filled, the partition is behind, and the next waits to
    /// fill `batch.max_size` instead, until one does not fill.
    func work(_ worker: KafkaPartitionWorker) async {
        let batch = consumer.batch
        var target = batch.size
        while true {
            let records = await worker.nextBatch(maxCount: target, maxWait: batch.maxWait, limit: batch.limit)
            if records.isEmpty { return }
            target = batch.nextTarget(after: records.count, target: target)
            await withCheckedContinuation { settled in
                let entry = KafkaBatchQueue.Entry(worker: worker, records: records) { settled.resume() }
                if let turn = queue.submit(entry) {
                    Task { await run(turn) }
                }
            }
        }
    }

    /// Runs a turn: its batches, then those that queued meanwhile, until none wait.
    private func run(_ first: [KafkaBatchQueue.Entry]) async {
        var entries = first
        while true {
            await process(entries)
            guard let next = queue.next() else { return }
            entries = next
        }
    }

    /// Processes the batches of one turn in one transaction and settles each partition's.
    private func process(_ entries: [KafkaBatchQueue.Entry]) async {
        // What arrived while the batches waited for their turn joins them (an adaptive
        // batch: the busier the store, the larger the batches), within the turn's limit.
        var batches = entries.map(\.records)
        var room = queue.maxRecords - batches.reduce(0) { $0 + $1.count }
        for index in entries.indices where room > 0 {
            let before = batches[index].count
            entries[index].worker.topUp(&batches[index], limit: min(consumer.batch.limit, before + room))
            room -= batches[index].count - before
        }
        let records = batches.flatMap { $0 }
        context.metrics.inFlight(records.count)
        defer { context.metrics.inFlight(-records.count) }
        let started = ContinuousClock.now
        let messages = records.map(KafkaMessageMapping.message)
        let decisions = await processor.process(messages, keepOrder: true)
        logger.trace(
            "batch processed",
            metadata: [
                "partitions": "\(entries.count)", "size": "\(records.count)",
                "ms": "\((ContinuousClock.now - started) / .milliseconds(1))",
            ])
        // Each partition's part is settled on its own: one waiting for a dead letter's
        // delivery report holds back no other.
        await withTaskGroup(of: Void.self) { group in
            var start = 0
            for (index, entry) in entries.enumerated() {
                let range = start..<(start + batches[index].count)
                start = range.upperBound
                let part = (
                    records: batches[index], messages: Array(messages[range]), decisions: Array(decisions[range])
                )
                group.addTask {
                    await settle(part.records, messages: part.messages, decisions: part.decisions, worker: entry.worker)
                    entry.settled()
                }
            }
        }
    }

    /// Acts on the decisions of one partition's batch, in order: its committable offset
    /// moves past the records done; the first record to retry ends the batch there.
    private func settle(
        _ records: [KafkaRecord], messages: [Message], decisions: [BatchProcessor.Decision],
        worker: KafkaPartitionWorker
    ) async {
        var doneBelow: Int64?
        defer { if let doneBelow { worker.done(below: doneBelow) } }
        for (index, decision) in decisions.enumerated() {
            let record = records[index]
            switch KafkaAction(decision.disposition) {
            case .markProcessed:
                doneBelow = record.offset + 1
            case .produceToDeadLetterThenMarkProcessed(let reason):
                do {
                    try await deadLetter(record, message: messages[index], decision: decision, reason: reason)
                    if processor.offsetMode {
                        try await context.store.releaseDeadOffset(
                            consumer: consumer.name,
                            at: LogPosition(stream: record.topic, lane: record.partition, offset: record.offset))
                    } else {
                        await context.recordDeadLettersConfirmed([decision])
                    }
                    doneBelow = record.offset + 1
                } catch {
                    logger.warning(
                        "could not produce a dead letter, retrying the record: \(error)",
                        metadata: ["source": .string(messages[index].source.description)])
                    inbox.post(
                        .retry(
                            worker.partition, offset: record.offset, delay: .seconds(1), generation: worker.awaitSeek())
                    )
                    return
                }
            case .pauseAndRetryInPlace(let delay):
                context.logRetry(messages[index], decision: decision, delay: delay, attemptsOnly: true)
                inbox.post(
                    .retry(worker.partition, offset: record.offset, delay: delay, generation: worker.awaitSeek()))
                return
            case .pauseAllAndReconnect:
                inbox.post(.storeUnavailable(worker.partition, offset: record.offset, generation: worker.awaitSeek()))
                return
            }
        }
    }

    private func deadLetter(
        _ record: KafkaRecord, message: Message, decision: BatchProcessor.Decision, reason: DeadLetterReason
    ) async throws {
        let headers = context.deadLetterHeaders(message, decision: decision, reason: reason)
        let topic = source.deadLetterTopic(for: record.topic)
        _ = try await producer.produce(
            topic: topic, key: record.key, value: record.value,
            headers: KafkaMessageMapping.deadLetterHeaders(record, idem: headers))
        context.logDeadLettered(message, decision: decision, reason: reason, destination: topic)
    }
}
