import Foundation
import IdemConcurrency
import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemKafka
import Logging
import ServiceLifecycle
import Synchronization

/// The state of one consumer session, driven by its poll loop.
final class KafkaSession: Sendable {
    private let context: ConsumerContext
    private let source: KafkaSourceConfig
    private let status: ConsumerStatus
    private let kafka: KafkaConsumer
    private let producer: KafkaProducer
    private let processor: BatchProcessor
    private let permits: AsyncSemaphore
    private let shared = Mutex(Shared())

    private struct Shared {
        var workers: [KafkaTopicPartition: KafkaPartitionWorker] = [:]
        var requests: [KafkaPartitionWorker.Request] = []
        /// Partitions paused until a time (a retry's backoff).
        var resumeAt: [KafkaTopicPartition: ContinuousClock.Instant] = [:]
        /// The offsets last committed.
        var committed: [KafkaTopicPartition: Int64] = [:]
        /// Done offsets of revoked partitions whose commit failed (a broker may refuse
        /// commits while the group rebalances): committed if the partition comes back.
        var uncommitted: [KafkaTopicPartition: Int64] = [:]
        /// PostgreSQL did not answer: every partition is paused until it does.
        var storeDown = false
        /// The probe found PostgreSQL answering again.
        var storeBack = false
        /// librdkafka reported every broker down, and none has answered since.
        var brokersDown = false
    }

    private var consumer: ConsumerConfig { context.consumer }
    private var logger: Logger { context.logger }

    init(
        context: ConsumerContext, source: KafkaSourceConfig, status: ConsumerStatus, kafka: KafkaConsumer,
        producer: KafkaProducer, permits: AsyncSemaphore
    ) {
        self.context = context
        self.source = source
        self.status = status
        self.kafka = kafka
        self.producer = producer
        self.processor = context.makeBatchProcessor()
        self.permits = permits
    }

    // MARK: The poll loop

    func pollLoop() async throws {
        let clock = ContinuousClock()
        var lastCommit = clock.now
        var lastPoll = clock.now
        var probe: Task<Void, Never>?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try await serveRequests()
            try await resumeDue(now: clock.now)
            if shared.withLock({ $0.storeBack }) {
                probe = nil
                try await storeIsBack()
            }
            if probe == nil, shared.withLock({ $0.storeDown }) {
                probe = Task { await self.probeStore() }
            }
            if clock.now - lastCommit >= source.commitInterval {
                await commitDone(waiting: false)
                await reportLag()
                checkBrokers()
                lastCommit = clock.now
                logger.trace("partitions", metadata: ["state": "\(partitionStates())"])
            }
            // Back-pressure: a partition whose worker is behind is paused (the others go
            // on); and while the workers together hold their share of records, poll only
            // once a second, for one record, so that the group keeps this member.
            try await applyBackpressure()
            var maxRecords = 5000
            if overBudget() {
                if clock.now - lastPoll < .seconds(1) {
                    try await Task.sleep(for: .milliseconds(2))
                    continue
                }
                maxRecords = 1
            }
            lastPoll = clock.now
            let result = try await kafka.poll(maxRecords: maxRecords, timeout: .milliseconds(100))
            route(result.records)
            if let rebalance = result.rebalance {
                try await handle(rebalance)
            }
        }
        probe?.cancel()
    }

    /// Each partition's buffered records and done offset, for trace logs.
    private func partitionStates() -> String {
        let workers = shared.withLock { $0.workers.values.sorted { $0.partition < $1.partition } }
        return workers.map { "\($0.partition): \($0.buffered) buffered, done below \($0.committable ?? -1)" }
            .joined(separator: "; ")
    }

    /// Whether the workers together hold as many records, or as much memory, as they may:
    /// a few batches per partition, and at most ``byteBudget``.
    private func overBudget() -> Bool {
        let workers = shared.withLock { Array($0.workers.values) }
        let records = workers.reduce(0) { $0 + $1.buffered }
        guard records < max(consumer.batch.size * 9 * max(1, workers.count), 10000) else { return true }
        return workers.reduce(0) { $0 + $1.bufferedBytes } >= Self.byteBudget
    }

    /// The most memory the records routed to the workers take before the loop polls only
    /// to keep the group membership (records then wait in librdkafka's queue, bounded by
    /// `queued.max.messages.kbytes`).
    static let byteBudget = 64 << 20

    /// A partition's buffer: enough batches that a partition paused for back-pressure is
    /// resumed (and fetched again) before its worker runs dry.
    private var partitionCapacity: (records: Int, bytes: Int) {
        (max(consumer.batch.size * 8, 2000), 16 << 20)
    }

    private func route(_ records: [KafkaRecord]) {
        guard !records.isEmpty else { return }
        var byPartition: [KafkaTopicPartition: [KafkaRecord]] = [:]
        for record in records {
            byPartition[record.topicPartition, default: []].append(record)
        }
        let workers = shared.withLock { $0.workers }
        for (partition, records) in byPartition {
            guard let worker = workers[partition] else {
                logger.debug("dropped records of a partition not assigned", metadata: ["partition": "\(partition)"])
                continue
            }
            worker.route(records)
        }
    }

    private func applyBackpressure() async throws {
        let workers = shared.withLock { $0.workers }
        let (held, storeDown) = shared.withLock { (Set($0.resumeAt.keys), $0.storeDown) }
        var pause: [KafkaTopicPartition] = []
        var resume: [KafkaTopicPartition] = []
        for (partition, worker) in workers {
            let change = worker.backpressure()
            if change.pause { pause.append(partition) }
            // A partition waiting out a retry's backoff, or paused with every other one
            // while PostgreSQL is down, is resumed by that, later.
            if change.resume && !held.contains(partition) && !storeDown { resume.append(partition) }
        }
        if !pause.isEmpty {
            logger.debug("partitions paused: their workers are behind", metadata: ["partitions": "\(pause)"])
            try await kafka.pause(pause)
        }
        if !resume.isEmpty {
            logger.debug("partitions resumed", metadata: ["partitions": "\(resume)"])
            try await kafka.resume(resume)
        }
    }

    private func serveRequests() async throws {
        let requests = shared.withLock { shared in
            defer { shared.requests.removeAll() }
            return shared.requests
        }
        for request in requests {
            switch request {
            case .retry(let partition, let offset, let delay, let generation):
                logger.debug(
                    "seeking back", metadata: ["partition": "\(partition)", "offset": "\(offset)", "delay": "\(delay)"])
                try await seekBack(partition, to: offset, generation: generation)
                shared.withLock { $0.resumeAt[partition] = .now + delay }
            case .storeUnavailable(let partition, let offset, let generation):
                try await seekBack(partition, to: offset, generation: generation)
                let first = shared.withLock { shared -> Bool in
                    defer { shared.storeDown = true }
                    return !shared.storeDown
                }
                if first {
                    logger.warning("PostgreSQL unavailable, pausing every partition")
                    status.storePaused()
                    let all = shared.withLock { Array($0.workers.keys) }
                    if !all.isEmpty { try await kafka.pause(all) }
                }
            }
        }
    }

    private func seekBack(_ partition: KafkaTopicPartition, to offset: Int64, generation: UInt64) async throws {
        guard let worker = shared.withLock({ $0.workers[partition] }) else { return }
        try await kafka.pause([partition])
        try await kafka.seek(partition, to: offset)
        worker.seeked(to: generation)
    }

    private func resumeDue(now: ContinuousClock.Instant) async throws {
        let due = shared.withLock { shared -> [KafkaTopicPartition] in
            guard !shared.storeDown else { return [] }
            let due = shared.resumeAt.filter { $0.value <= now }.map(\.key)
            for partition in due { shared.resumeAt[partition] = nil }
            return due
        }
        if !due.isEmpty { try await kafka.resume(due) }
    }

    private func probeStore() async {
        do {
            try await context.waitForStore()
            shared.withLock { $0.storeBack = true }
        } catch {
            // Cancelled: the session is ending.
        }
    }

    private func storeIsBack() async throws {
        status.storeResumed()
        let resume = shared.withLock { shared -> [KafkaTopicPartition] in
            shared.storeDown = false
            shared.storeBack = false
            return shared.workers.keys.filter { shared.resumeAt[$0] == nil }
        }
        if !resume.isEmpty { try await kafka.resume(resume) }
    }

    // MARK: Rebalances

    private func handle(_ rebalance: KafkaRebalance) async throws {
        switch rebalance {
        case .revoke(let partitions):
            logger.info("partitions revoked", metadata: ["partitions": "\(partitions)"])
            let workers = shared.withLock { shared in partitions.compactMap { shared.workers[$0] } }
            await withTaskGroup(of: Void.self) { group in
                for worker in workers { group.addTask { await worker.stop() } }
            }
            await commit(workers, waiting: true)
            shared.withLock { shared in
                for worker in workers {
                    if let offset = worker.committable, shared.committed[worker.partition] != offset {
                        shared.uncommitted[worker.partition] = offset
                    }
                }
                for partition in partitions {
                    shared.workers[partition] = nil
                    shared.resumeAt[partition] = nil
                    shared.committed[partition] = nil
                }
            }
            for partition in partitions {
                context.metrics.logLag(stream: partition.topic, lane: partition.partition, nil)
            }
            try await kafka.completeRebalance(rebalance)
        case .assign(let partitions):
            logger.info("partitions assigned", metadata: ["partitions": "\(partitions)"])
            for partition in partitions {
                let capacity = partitionCapacity
                let worker = KafkaPartitionWorker(
                    partition: partition, capacity: capacity.records, byteCapacity: capacity.bytes)
                shared.withLock { $0.workers[partition] = worker }
                worker.start { [self] worker in await self.work(worker) }
            }
            try await kafka.completeRebalance(rebalance, startOffsets: try await storedOffsets(for: partitions))
            if shared.withLock({ $0.storeDown }), !partitions.isEmpty { try await kafka.pause(partitions) }
            await commitLeftovers(partitions)
        }
    }

    /// Offset mode: where each newly assigned partition starts, from PostgreSQL (the source
    /// of truth); partitions without a stored offset start at the committed one.
    private func storedOffsets(for partitions: [KafkaTopicPartition]) async throws -> [KafkaTopicPartition: Int64] {
        guard processor.offsetMode else { return [:] }
        var starts: [KafkaTopicPartition: Int64] = [:]
        for topic in Set(partitions.map(\.topic)) {
            var backoff = StoreProbe.backoff
            while true {
                do {
                    let stored = try await context.store.storedOffsets(consumer: consumer.name, stream: topic)
                    for partition in partitions where partition.topic == topic {
                        if let offset = stored[partition.partition] { starts[partition] = offset }
                    }
                    break
                } catch {
                    // Without the stored offsets the partition cannot start at the right place.
                    logger.warning("waiting for PostgreSQL to read the stored offsets: \(error)")
                    try await Task.sleep(for: backoff.next())
                }
            }
        }
        if !starts.isEmpty { logger.info("starting at the stored offsets", metadata: ["offsets": "\(starts)"]) }
        return starts
    }

    /// Commits the done offsets a failed commit left behind for partitions assigned again,
    /// where the group's committed offset is still behind them.
    private func commitLeftovers(_ partitions: [KafkaTopicPartition]) async {
        let leftovers = shared.withLock { shared -> [KafkaTopicPartition: Int64] in
            var found: [KafkaTopicPartition: Int64] = [:]
            for partition in partitions {
                if let offset = shared.uncommitted.removeValue(forKey: partition) { found[partition] = offset }
            }
            return found
        }
        guard !leftovers.isEmpty else { return }
        do {
            let committed = try await kafka.committed(Array(leftovers.keys), timeout: .seconds(5))
            let behind = leftovers.filter { partition, offset in (committed[partition] ?? -1) < offset }
            guard !behind.isEmpty else { return }
            try await kafka.commit(
                offsets: behind.map {
                    KafkaPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value)
                })
            shared.withLock { shared in
                for (partition, offset) in behind { shared.committed[partition] = offset }
            }
        } catch {
            logger.debug("could not commit the offsets left from before the rebalance: \(error)")
        }
    }

    /// Stops every worker after its batch in flight (shutdown or a failed session).
    func stopAll() async {
        let workers = shared.withLock { Array($0.workers.values) }
        await withTaskGroup(of: Void.self) { group in
            for worker in workers { group.addTask { await worker.stop() } }
        }
    }

    /// The last commit before leaving, waiting for the broker: tried a few times, since a
    /// broker refuses commits while the group rebalances.
    func commitFinal() async {
        for attempt in 1...5 {
            if await commitDone(waiting: true) { return }
            if attempt < 5 { try? await Task.sleep(for: .milliseconds(400)) }
        }
    }

    /// Commits the done offsets; false if that failed. Without `waiting` only the offsets
    /// that moved since the last commit are sent, and the broker's answer is not awaited
    /// (the regular commits: a lost one only means redeliveries, which dedup absorbs);
    /// `waiting` commits every done offset again and waits (before partitions are given up).
    @discardableResult
    func commitDone(waiting: Bool) async -> Bool {
        let workers = shared.withLock { Array($0.workers.values) }
        return await commit(workers, waiting: waiting)
    }

    @discardableResult
    private func commit(_ workers: [KafkaPartitionWorker], waiting: Bool) async -> Bool {
        let pending = shared.withLock { shared -> [KafkaPartitionOffset] in
            workers.compactMap { worker in
                guard let offset = worker.committable, waiting || shared.committed[worker.partition] != offset
                else { return nil }
                return KafkaPartitionOffset(
                    topic: worker.partition.topic, partition: worker.partition.partition, offset: offset)
            }
        }
        guard !pending.isEmpty else { return true }
        do {
            if waiting {
                try await kafka.commit(offsets: pending)
            } else {
                try await kafka.commitWithoutWaiting(offsets: pending)
            }
            shared.withLock { shared in
                for position in pending {
                    shared.committed[KafkaTopicPartition(topic: position.topic, partition: position.partition)] =
                        position.offset
                }
            }
            return true
        } catch {
            // Committed offsets only save redelivery work: dedup makes redeliveries harmless.
            logger.warning("could not commit offsets, will try again: \(error)")
            return false
        }
    }

    /// Sets `idem_kafka_lag` of each assigned partition: the high watermark librdkafka last
    /// saw minus the offset below which every record is done (or the committed one).
    private func reportLag() async {
        let positions = shared.withLock { shared in
            shared.workers.map { ($0.key, $0.value.committable ?? shared.committed[$0.key]) }
        }
        guard !positions.isEmpty,
            let watermarks = try? await kafka.cachedHighWatermarks(positions.map(\.0))
        else { return }
        for (partition, done) in positions {
            guard let high = watermarks[partition], let done else { continue }
            context.metrics.logLag(stream: partition.topic, lane: partition.partition, high - done)
        }
    }

    /// Marks the consumer not ready while every broker is down (librdkafka reconnects by
    /// itself; this only reports it), and ready again once a broker answers.
    private func checkBrokers() {
        let reachable = !kafka.allBrokersDown
        let changed = shared.withLock { shared in
            defer { shared.brokersDown = !reachable }
            return shared.brokersDown == reachable
        }
        guard changed else { return }
        if reachable {
            logger.info("a Kafka broker answers again")
            status.brokerBack()
        } else {
            logger.warning("every Kafka broker is down; librdkafka keeps reconnecting")
            status.brokerLost("every Kafka broker is down")
        }
    }

    // MARK: A partition worker

    private func work(_ worker: KafkaPartitionWorker) async {
        while true {
            let records = await worker.nextBatch(maxCount: consumer.batch.size, maxWait: consumer.batch.maxWait)
            if records.isEmpty { return }
            await permits.withPermit {
                await process(records, worker: worker)
            }
        }
    }

    private func process(_ records: [KafkaRecord], worker: KafkaPartitionWorker) async {
        context.metrics.inFlight(records.count)
        defer { context.metrics.inFlight(-records.count) }
        let started = ContinuousClock.now
        let messages = records.map(KafkaMessageMapping.message)
        let decisions = await processor.process(messages, keepOrder: true)
        logger.trace(
            "batch processed",
            metadata: [
                "partition": "\(worker.partition)", "size": "\(records.count)",
                "ms": "\((ContinuousClock.now - started) / .milliseconds(1))",
            ])
        var doneBelow: Int64?
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
                    }
                    doneBelow = record.offset + 1
                } catch {
                    logger.warning(
                        "could not produce a dead letter, retrying the record: \(error)",
                        metadata: ["source": .string(messages[index].source.description)])
                    request(
                        .retry(
                            worker.partition, offset: record.offset, delay: .seconds(1), generation: worker.awaitSeek())
                    )
                    if let doneBelow { worker.done(below: doneBelow) }
                    return
                }
            case .pauseAndRetryInPlace(let delay):
                context.logRetry(messages[index], decision: decision, delay: delay, attemptsOnly: true)
                request(.retry(worker.partition, offset: record.offset, delay: delay, generation: worker.awaitSeek()))
                if let doneBelow { worker.done(below: doneBelow) }
                return
            case .pauseAllAndReconnect:
                request(.storeUnavailable(worker.partition, offset: record.offset, generation: worker.awaitSeek()))
                if let doneBelow { worker.done(below: doneBelow) }
                return
            }
        }
        if let doneBelow { worker.done(below: doneBelow) }
    }

    private func request(_ request: KafkaPartitionWorker.Request) {
        shared.withLock { $0.requests.append(request) }
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
