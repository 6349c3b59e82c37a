import IdemKafka

/// What a Kafka consumer session decides, without doing it: which partitions to pause,
/// seek and resume, which offsets to commit, and when the dedup store or the brokers are
/// away. The poll loop (``KafkaPollLoop``) alone owns it; it feeds it what happened (a
/// worker's request, a rebalance, a commit, the clock) and carries out the actions it
/// returns against librdkafka. No I/O, no locks: every rule is testable as a value.
struct KafkaConsumerStateMachine: Sendable {
    typealias Partition = KafkaTopicPartition
    typealias Instant = ContinuousClock.Instant

    /// What the partition workers and the store probe tell the poll loop.
    enum Event: Sendable, Hashable {
        /// A record failed transiently: seek the partition back to `offset` and resume it
        /// after `delay`; records routed from then on carry `generation`.
        case retry(Partition, offset: Int64, delay: Duration, generation: UInt64)
        /// The dedup store did not answer for a record: like ``retry``, and pause every
        /// partition until the store answers again.
        case storeUnavailable(Partition, offset: Int64, generation: UInt64)
        /// The store probe got an answer.
        case storeAnswered
        /// An operator paused the consumer: every partition stays paused until resumed.
        case operatorPaused
        /// An operator resumed the consumer.
        case operatorResumed
    }

    /// What the poll loop does for the state machine.
    enum Action: Sendable, Hashable {
        /// Pause the partition, seek it to `offset`, and tell its worker the seek's
        /// generation.
        case seek(Partition, offset: Int64, generation: UInt64)
        /// Pause these partitions.
        case pause([Partition])
        /// Resume these partitions.
        case resume([Partition])
        /// The store went away: report it and probe it until it answers.
        case storeLost
        /// The store answers again: report it.
        case storeBack
    }

    /// The partitions assigned to this member.
    private(set) var assigned: Set<Partition> = []
    /// Partitions paused until a time (a retry's backoff).
    private var resumeAt: [Partition: Instant] = [:]
    /// The offsets last committed.
    private(set) var committed: [Partition: Int64] = [:]
    /// Done offsets of revoked partitions whose commit failed (a broker may refuse commits
    /// while the group rebalances): committed if the partition comes back.
    private var uncommitted: [Partition: Int64] = [:]
    /// The store did not answer: every partition stays paused until it does.
    private(set) var storeDown = false
    /// An operator paused the consumer: every partition stays paused until resumed.
    private(set) var operatorPaused = false
    /// librdkafka reported every broker down, and none has answered since.
    private(set) var brokersDown = false

    // MARK: Events

    /// The actions for `event`, at `now`.
    mutating func handle(_ event: Event, now: Instant) -> [Action] {
        switch event {
        case .retry(let partition, let offset, let delay, let generation):
            guard assigned.contains(partition) else { return [] }
            resumeAt[partition] = now + delay
            return [.seek(partition, offset: offset, generation: generation)]
        case .storeUnavailable(let partition, let offset, let generation):
            var actions: [Action] = []
            if assigned.contains(partition) {
                actions.append(.seek(partition, offset: offset, generation: generation))
            }
            if !storeDown {
                storeDown = true
                actions.append(.storeLost)
                if !assigned.isEmpty { actions.append(.pause(assigned.sorted())) }
            }
            return actions
        case .storeAnswered:
            guard storeDown else { return [] }
            storeDown = false
            let resume = operatorPaused ? [] : assigned.filter { resumeAt[$0] == nil }.sorted()
            return [.storeBack] + (resume.isEmpty ? [] : [.resume(resume)])
        case .operatorPaused:
            guard !operatorPaused else { return [] }
            operatorPaused = true
            return assigned.isEmpty ? [] : [.pause(assigned.sorted())]
        case .operatorResumed:
            guard operatorPaused else { return [] }
            operatorPaused = false
            let resume = storeDown ? [] : assigned.filter { resumeAt[$0] == nil }.sorted()
            return resume.isEmpty ? [] : [.resume(resume)]
        }
    }

    /// Whether nothing may be resumed: the store is down or an operator paused the consumer.
    private var holdingAll: Bool { storeDown || operatorPaused }

    /// The partitions whose retry backoff is over at `now`, to resume (none while the store
    /// is down or an operator paused the consumer: the store's return or the resume
    /// resumes them).
    mutating func resumeDue(now: Instant) -> [Partition] {
        guard !holdingAll else { return [] }
        let due = resumeAt.filter { $0.value <= now }.map(\.key).sorted()
        for partition in due { resumeAt[partition] = nil }
        return due
    }

    /// Of the partitions whose workers have room again, those that may be resumed: not one
    /// waiting out a retry's backoff, and none while the store is down or an operator
    /// paused the consumer.
    func mayResume(_ partitions: [Partition]) -> [Partition] {
        guard !holdingAll else { return [] }
        return partitions.filter { resumeAt[$0] == nil }
    }

    // MARK: Rebalances

    /// `partitions` are assigned: returns those to pause at once (all of them while the
    /// store is down or an operator paused the consumer) and the done offsets left from before a revocation to commit if the
    /// group's committed offset is still behind them.
    mutating func assign(_ partitions: [Partition]) -> (pause: [Partition], leftovers: [Partition: Int64]) {
        assigned.formUnion(partitions)
        var leftovers: [Partition: Int64] = [:]
        for partition in partitions {
            if let offset = uncommitted.removeValue(forKey: partition) { leftovers[partition] = offset }
        }
        return (holdingAll ? partitions : [], leftovers)
    }

    /// `partitions` are revoked, after their workers stopped and their final commit was
    /// tried; `done` is each one's committable offset. What the commit did not reach is
    /// kept for a later assignment of the partition.
    mutating func revoke(_ partitions: [Partition], done: [Partition: Int64]) {
        for (partition, offset) in done where committed[partition] != offset {
            uncommitted[partition] = offset
        }
        for partition in partitions {
            assigned.remove(partition)
            resumeAt[partition] = nil
            committed[partition] = nil
        }
    }

    // MARK: Commits

    /// The offsets to commit of the partitions' `done` offsets: with `waiting` (before
    /// partitions are given up) every one; otherwise only those that moved since the last
    /// commit.
    func commits(done: [Partition: Int64], waiting: Bool) -> [KafkaPartitionOffset] {
        done.filter { waiting || committed[$0.key] != $0.value }
            .sorted { $0.key < $1.key }
            .map { KafkaPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) }
    }

    /// The broker took `offsets`.
    mutating func didCommit(_ offsets: [KafkaPartitionOffset]) {
        for position in offsets {
            committed[Partition(topic: position.topic, partition: position.partition)] = position.offset
        }
    }

    // MARK: Brokers

    /// Records whether some broker answers; true when that changed.
    mutating func brokers(reachable: Bool) -> Bool {
        defer { brokersDown = !reachable }
        return brokersDown == reachable
    }
}
