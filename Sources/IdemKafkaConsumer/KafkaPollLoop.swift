import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemKafka
import Logging
import ServiceLifecycle

/// The driver of one Kafka consumer session: the only task that talks to the librdkafka
/// consumer. Each turn it takes the events the workers and the store probe posted, lets
/// the ``KafkaConsumerStateMachine`` decide, and carries out its actions; then it commits
/// on schedule, applies back-pressure, polls, routes the records to the partition workers
/// and handles rebalances.
///
/// Owned by the session's task alone (not `Sendable`): the workers and the probe reach it
/// only through the ``KafkaInbox``.
final class KafkaPollLoop {
    private let context: ConsumerContext
    private let source: KafkaSourceConfig
    private let status: ConsumerStatus
    private let kafka: KafkaConsumer
    private let runner: KafkaBatchRunner
    private let inbox: KafkaInbox
    private var state = KafkaConsumerStateMachine()
    private var workers: [KafkaTopicPartition: KafkaPartitionWorker] = [:]
    private var probe: Task<Void, Never>?
    private var lastWatermarkQuery: ContinuousClock.Instant?

    private var consumer: ConsumerConfig { context.consumer }
    private var logger: Logger { context.logger }

    init(
        context: ConsumerContext, source: KafkaSourceConfig, status: ConsumerStatus, kafka: KafkaConsumer,
        producer: KafkaProducer
    ) {
        self.context = context
        self.source = source
        self.status = status
        self.kafka = kafka
        let inbox = KafkaInbox()
        self.inbox = inbox
        self.runner = KafkaBatchRunner(context: context, source: source, producer: producer, inbox: inbox)
    }

    /// Polls until a graceful shutdown (returns) or a broker failure (throws).
    func run() async throws {
        defer {
            probe?.cancel()
            probe = nil
        }
        let clock = ContinuousClock()
        var lastCommit = clock.now
        var lastPoll = clock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            for event in inbox.take() {
                try await perform(state.handle(event, now: clock.now))
            }
            if context.control.isPaused != state.operatorPaused {
                try await followPause(context.control.isPaused, now: clock.now)
            }
            let due = state.resumeDue(now: clock.now)
            if !due.isEmpty { try await kafka.resume(due) }
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
    }

    // MARK: The state machine's actions

    private func perform(_ actions: [KafkaConsumerStateMachine.Action]) async throws {
        for action in actions {
            switch action {
            case .seek(let partition, let offset, let generation):
                guard let worker = workers[partition] else { continue }
                logger.debug("seeking back", metadata: ["partition": "\(partition)", "offset": "\(offset)"])
                try await kafka.pause([partition])
                try await kafka.seek(partition, to: offset)
                worker.seeked(to: generation)
            case .pause(let partitions):
                try await kafka.pause(partitions)
            case .resume(let partitions):
                try await kafka.resume(partitions)
            case .storeLost:
                logger.warning("PostgreSQL unavailable, pausing every partition")
                status.storePaused()
                startProbe()
            case .storeBack:
                probe = nil
                status.storeResumed()
            }
        }
    }

    /// Pauses or resumes every assigned partition as an operator asked. The records already
    /// routed to the workers are processed and committed as usual; polling goes on, so that
    /// the consumer keeps its group membership.
    private func followPause(_ paused: Bool, now: ContinuousClock.Instant) async throws {
        try await perform(state.handle(paused ? .operatorPaused : .operatorResumed, now: now))
        if paused {
            logger.notice("paused by an operator: every partition paused; finishing the records received")
        } else {
            logger.notice("resumed by an operator")
        }
    }

    /// Probes the store until it answers, then posts ``KafkaConsumerStateMachine/Event/storeAnswered``.
    private func startProbe() {
        guard probe == nil else { return }
        probe = Task { [context, inbox] in
            do {
                try await context.waitForStore()
                inbox.post(.storeAnswered)
            } catch {
                // Cancelled: the session is ending.
            }
        }
    }

    // MARK: Records and back-pressure

    /// Each partition's buffered records and done offset, for trace logs.
    private func partitionStates() -> String {
        workers.values.sorted { $0.partition < $1.partition }
            .map { "\($0.partition): \($0.buffered) buffered, done below \($0.committable ?? -1)" }
            .joined(separator: "; ")
    }

    /// Whether the workers together hold as many records, or as much memory, as they may:
    /// a few batches per partition, and at most ``byteBudget``.
    private func overBudget() -> Bool {
        let records = workers.values.reduce(0) { $0 + $1.buffered }
        guard records < max(consumer.batch.limit * 3 * max(1, workers.count), 10000) else { return true }
        return workers.values.reduce(0) { $0 + $1.bufferedBytes } >= Self.byteBudget
    }

    /// The most memory the records routed to the workers take before the loop polls only
    /// to keep the group membership (records then wait in librdkafka's queue, bounded by
    /// `queued.max.messages.kbytes`).
    static let byteBudget = 64 << 20

    /// A partition's buffer: enough batches that a partition paused for back-pressure is
    /// resumed (and fetched again) before its worker runs dry.
    private var partitionCapacity: (records: Int, bytes: Int) {
        (max(consumer.batch.limit * 8, 2000), 16 << 20)
    }

    private func route(_ records: [KafkaRecord]) {
        guard !records.isEmpty else { return }
        var byPartition: [KafkaTopicPartition: [KafkaRecord]] = [:]
        for record in records {
            byPartition[record.topicPartition, default: []].append(record)
        }
        for (partition, records) in byPartition {
            guard let worker = workers[partition] else {
                logger.debug("dropped records of a partition not assigned", metadata: ["partition": "\(partition)"])
                continue
            }
            worker.route(records)
        }
    }

    private func applyBackpressure() async throws {
        var pause: [KafkaTopicPartition] = []
        var roomAgain: [KafkaTopicPartition] = []
        for (partition, worker) in workers {
            let change = worker.backpressure()
            if change.pause { pause.append(partition) }
            if change.resume { roomAgain.append(partition) }
        }
        // A partition waiting out a retry's backoff, or paused with every other one while
        // PostgreSQL is down, is resumed by that, later.
        let resume = state.mayResume(roomAgain)
        if !pause.isEmpty {
            logger.debug("partitions paused: their workers are behind", metadata: ["partitions": "\(pause)"])
            try await kafka.pause(pause)
        }
        if !resume.isEmpty {
            logger.debug("partitions resumed", metadata: ["partitions": "\(resume)"])
            try await kafka.resume(resume)
        }
    }

    // MARK: Rebalances

    private func handle(_ rebalance: KafkaRebalance) async throws {
        switch rebalance {
        case .revoke(let partitions):
            logger.info("partitions revoked", metadata: ["partitions": "\(partitions)"])
            let revoked = partitions.compactMap { workers[$0] }
            await withTaskGroup(of: Void.self) { group in
                for worker in revoked { group.addTask { await worker.stop() } }
            }
            await commit(revoked, waiting: true)
            var done: [KafkaTopicPartition: Int64] = [:]
            for worker in revoked { done[worker.partition] = worker.committable }
            state.revoke(partitions, done: done)
            for partition in partitions {
                workers[partition] = nil
                context.metrics.logLag(stream: partition.topic, lane: partition.partition, nil)
            }
            try await kafka.completeRebalance(rebalance)
        case .assign(let partitions):
            logger.info("partitions assigned", metadata: ["partitions": "\(partitions)"])
            for partition in partitions {
                let capacity = partitionCapacity
                let worker = KafkaPartitionWorker(
                    partition: partition, capacity: capacity.records, byteCapacity: capacity.bytes)
                workers[partition] = worker
                worker.start { [runner] worker in await runner.work(worker) }
            }
            let (pause, leftovers) = state.assign(partitions)
            try await kafka.completeRebalance(rebalance, startOffsets: try await storedOffsets(for: partitions))
            if !pause.isEmpty { try await kafka.pause(pause) }
            await commitLeftovers(leftovers)
        }
    }

    /// Offset mode: where each newly assigned partition starts, from PostgreSQL (the source
    /// of truth); partitions without a stored offset start at the committed one.
    private func storedOffsets(for partitions: [KafkaTopicPartition]) async throws -> [KafkaTopicPartition: Int64] {
        guard runner.offsetMode else { return [:] }
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
    private func commitLeftovers(_ leftovers: [KafkaTopicPartition: Int64]) async {
        guard !leftovers.isEmpty else { return }
        do {
            let committed = try await kafka.committed(Array(leftovers.keys), timeout: .seconds(5))
            let behind = leftovers.filter { partition, offset in (committed[partition] ?? -1) < offset }
            guard !behind.isEmpty else { return }
            let offsets = state.commits(done: behind, waiting: true)
            try await kafka.commit(offsets: offsets)
            state.didCommit(offsets)
        } catch {
            logger.debug("could not commit the offsets left from before the rebalance: \(error)")
        }
    }

    // MARK: Leaving

    /// Stops every worker after its batch in flight (shutdown or a failed session).
    func stopAll() async {
        let running = Array(workers.values)
        await withTaskGroup(of: Void.self) { group in
            for worker in running { group.addTask { await worker.stop() } }
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

    // MARK: Commits, lag, brokers

    /// Commits the done offsets; false if that failed. Without `waiting` only the offsets
    /// that moved since the last commit are sent, and the broker's answer is not awaited
    /// (the regular commits: a lost one only means redeliveries, which dedup absorbs);
    /// `waiting` commits every done offset again and waits (before partitions are given up).
    @discardableResult
    private func commitDone(waiting: Bool) async -> Bool {
        await commit(Array(workers.values), waiting: waiting)
    }

    @discardableResult
    private func commit(_ workers: [KafkaPartitionWorker], waiting: Bool) async -> Bool {
        var done: [KafkaTopicPartition: Int64] = [:]
        for worker in workers {
            if let offset = worker.committable { done[worker.partition] = offset }
        }
        let pending = state.commits(done: done, waiting: waiting)
        guard !pending.isEmpty else { return true }
        do {
            if waiting {
                try await kafka.commit(offsets: pending)
            } else {
                try await kafka.commitWithoutWaiting(offsets: pending)
            }
            state.didCommit(pending)
            return true
        } catch {
            // Committed offsets only save redelivery work: dedup makes redeliveries harmless.
            logger.warning("could not commit offsets, will try again: \(error)")
            return false
        }
    }

    /// Sets `idem_kafka_lag` of each assigned partition: the high watermark librdkafka last
    /// saw minus the offset below which every record is done (or the committed one). While
    /// an operator pauses the consumer nothing is fetched, so the watermarks are asked of the
    /// brokers instead, every few seconds.
    private func reportLag() async {
        let positions = workers.map { ($0.key, $0.value.committable ?? state.committed[$0.key]) }
        guard !positions.isEmpty else { return }
        let watermarks: [KafkaTopicPartition: Int64]?
        let now = ContinuousClock.now
        if state.operatorPaused {
            guard lastWatermarkQuery.map({ now - $0 >= .seconds(5) }) ?? true else { return }
            lastWatermarkQuery = now
            watermarks = try? await kafka.queriedHighWatermarks(positions.map(\.0), timeout: .seconds(2))
        } else {
            lastWatermarkQuery = nil
            watermarks = try? await kafka.cachedHighWatermarks(positions.map(\.0))
        }
        guard let watermarks else { return }
        for (partition, done) in positions {
            guard let high = watermarks[partition], let done else { continue }
            context.metrics.logLag(stream: partition.topic, lane: partition.partition, high - done)
        }
    }

    /// Marks the consumer not ready while every broker is down (librdkafka reconnects by
    /// itself; this only reports it), and ready again once a broker answers.
    private func checkBrokers() {
        let reachable = !kafka.allBrokersDown
        guard state.brokers(reachable: reachable) else { return }
        if reachable {
            logger.info("a Kafka broker answers again")
            status.brokerBack()
        } else {
            logger.warning("every Kafka broker is down; librdkafka keeps reconnecting")
            status.brokerLost("every Kafka broker is down")
        }
    }
}
