import Foundation
import IdemKafka
import IdemKafkaMock
import IdemLogCapture
import IdemTestSupport
import Logging
import Testing

/// The batch consumer with caller-completed rebalances, against an in-process mock cluster.
@Suite("Kafka consumer: batches, rebalances, pause, seek")
struct KafkaConsumerTests {
    let logger = makeTestLogger("idem.tests.kafka-consumer")

    @Test("a batch poll returns records of 4 partitions in order per partition, at most maxRecords, each once")
    func batches() async throws {
        let topic = "batches"
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 4, logger: logger)
        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 2000, partitions: 4, logger: logger)
        let consumer = try await KafkaTestKit.consumer(
            cluster, group: KafkaTestKit.group("batches"), topic: topic, logger: logger)
        let assigned = try await KafkaTestKit.assigned(consumer)
        #expect(assigned == KafkaTestKit.partitions(topic, 4))

        var records: [KafkaRecord] = []
        var batchSizes: [Int] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while records.count < 2000, ContinuousClock.now < deadline {
            let result = try await consumer.poll(maxRecords: 64, timeout: .seconds(1))
            #expect(result.rebalance == nil)
            if !result.records.isEmpty { batchSizes.append(result.records.count) }
            records += result.records
        }
        // Nothing more arrives.
        let extra = try await consumer.poll(maxRecords: 64, timeout: .milliseconds(500))
        #expect(extra.records.isEmpty)

        #expect(records.count == 2000)
        #expect(Set(records.map(KafkaTestKit.text)) == Set((0..<2000).map { "v-\($0)" }))
        #expect(batchSizes.allSatisfy { $0 <= 64 }, "batch sizes \(batchSizes)")
        #expect(batchSizes.contains { $0 > 1 }, "records came one at a time: \(batchSizes)")
        for partition in KafkaTestKit.partitions(topic, 4) {
            let offsets = records.filter { $0.topicPartition == partition }.map(\.offset)
            #expect(offsets == Array(0..<500), "offsets of \(partition) out of order or missing")
        }
        #expect(records.allSatisfy { $0.timestamp != nil && $0.key == nil && $0.headers.isEmpty })
        await consumer.close()
        await cluster.shutdown()
    }

    @Test(
        "a second member joins: the first reports a revocation, commits, then gets its share; each record is committed once"
    )
    func rebalanceBetweenTwoMembers() async throws {
        let topic = "rebalance"
        let all = KafkaTestKit.partitions(topic, 4)
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 4, logger: logger)
        let group = KafkaTestKit.group("rebalance")
        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 1000, partitions: 4, logger: logger)
        let ledger = KafkaLedger()

        let first = try await KafkaTestKit.consumer(cluster, group: group, topic: topic, logger: logger)
        let firstMember = Task { try await KafkaGroupMember(name: "A", consumer: first, ledger: ledger).run() }
        try await ledger.wait(60, "member A alone commits the first 1000 records") { $0.count >= 1000 }
        #expect(await ledger.events["A"] == [.assign(all)])

        let second = try await KafkaTestKit.consumer(cluster, group: group, topic: topic, logger: logger)
        let secondMember = Task { try await KafkaGroupMember(name: "B", consumer: second, ledger: ledger).run() }
        try await ledger.wait(90, "each member holds two partitions") {
            guard let shareA = $0.lastAssignment("A"), let shareB = $0.lastAssignment("B") else { return false }
            return shareA.count == 2 && Set(shareA + shareB) == Set(all)
        }
        try await KafkaTestKit.produce(
            to: cluster, topic: topic, count: 1000, first: 1000, partitions: 4, logger: logger)
        try await ledger.wait(60, "all 2000 records committed") { $0.count >= 2000 }
        // Give a duplicate the time to show up.
        try await Task.sleep(for: .milliseconds(500))
        await ledger.stop()
        let firstReport = try await firstMember.value
        let secondReport = try await secondMember.value

        // A saw its whole assignment revoked, then got a share; B only ever got assignments.
        // (The mock may add a round when a follower's SyncGroup races the leader's.)
        let events = await ledger.events
        #expect(Array((events["A"] ?? []).prefix(2)) == [.assign(all), .revoke(all)], "events: \(events)")
        #expect(
            (events["B"] ?? []).allSatisfy { if case .assign = $0 { true } else { false } }
                || (events["A"] ?? []).count > 3, "events: \(events)")
        let firstShare = try #require(await ledger.lastAssignment("A"))
        let secondShare = try #require(await ledger.lastAssignment("B"))
        #expect(firstShare.count == 2 && secondShare.count == 2, "shares \(firstShare) and \(secondShare)")
        #expect(Set(firstShare).isDisjoint(with: secondShare))
        // librdkafka kept the revoked partitions assigned until the revocation was completed,
        // and the group handed out the new shares only after that.
        #expect(firstReport.assignmentAtRevoke == all)
        let revokeCompleted = try #require(firstReport.revokeCompletedAt)
        let secondAssigned = try #require(secondReport.firstAssignmentAt)
        #expect(secondAssigned > revokeCompleted)

        let counts = await ledger.counts
        #expect(counts.count == 2000)
        #expect(counts.values.allSatisfy { $0 == 1 }, "committed more than once: \(counts.filter { $0.value > 1 })")
        #expect(Set(counts.keys) == Set((0..<2000).map { "v-\($0)" }))
        let byMember = await ledger.byMember
        #expect((byMember["B"] ?? 0) >= 250, "B committed \(byMember["B"] ?? 0) records")
        #expect((byMember["A"] ?? 0) + (byMember["B"] ?? 0) == 2000)
        await first.close()
        await second.close()
        await cluster.shutdown()
    }

    @Test("an assignment is not applied until completed, and starts at the given offsets")
    func startOffsets() async throws {
        let topic = "start-offsets"
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 2, logger: logger)
        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 200, partitions: 2, logger: logger)
        let consumer = try await KafkaTestKit.consumer(
            cluster, group: KafkaTestKit.group("start"), topic: topic, logger: logger)
        let (rebalance, _) = try await KafkaTestKit.nextRebalance(consumer)
        let all = KafkaTestKit.partitions(topic, 2)
        #expect(rebalance == .assign(all))

        // Deferred: librdkafka assigned nothing by itself, and polling first is refused.
        try await Task.sleep(for: .seconds(1))
        #expect(try await consumer.assignment() == [])
        let early = await #expect(throws: KafkaError.self) {
            _ = try await consumer.poll(maxRecords: 10, timeout: .milliseconds(10))
        }
        #expect(early?.kind == .invalidArgument)
        let mismatch = await #expect(throws: KafkaError.self) {
            try await consumer.completeRebalance(.revoke(all))
        }
        #expect(mismatch?.kind == .invalidArgument)

        let zero = KafkaTopicPartition(topic: topic, partition: 0)
        try await consumer.completeRebalance(rebalance, startOffsets: [zero: 50])
        #expect(try await consumer.assignment() == all)
        let again = await #expect(throws: KafkaError.self) {
            try await consumer.completeRebalance(rebalance)
        }
        #expect(again?.kind == .invalidArgument)

        let records = try await KafkaTestKit.records(consumer, count: 150)
        let fromZero = records.filter { $0.partition == 0 }.map(\.offset)
        let fromOne = records.filter { $0.partition == 1 }.map(\.offset)
        #expect(fromZero.first == 50)
        #expect(fromZero == Array(50..<100))
        #expect(fromOne == Array(0..<100))
        await consumer.close()
        await cluster.shutdown()
    }

    @Test("a paused partition delivers nothing while the others flow; resumed, it delivers from where it stopped")
    func pauseAndResume() async throws {
        let topic = "pause"
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 2, logger: logger)
        let consumer = try await KafkaTestKit.consumer(
            cluster, group: KafkaTestKit.group("pause"), topic: topic, logger: logger)
        _ = try await KafkaTestKit.assigned(consumer)
        let zero = KafkaTopicPartition(topic: topic, partition: 0)
        let one = KafkaTopicPartition(topic: topic, partition: 1)

        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 40, partitions: 2, logger: logger)
        let before = try await KafkaTestKit.records(consumer, count: 40)
        #expect(before.count == 40)

        try await consumer.pause([zero])
        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 200, first: 40, partitions: 2, logger: logger)
        var whilePaused: [KafkaRecord] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while whilePaused.count < 100, ContinuousClock.now < deadline {
            whilePaused += try await consumer.poll(maxRecords: 30, timeout: .milliseconds(500)).records
        }
        // A little longer, for a stray record of the paused partition.
        whilePaused += try await consumer.poll(maxRecords: 30, timeout: .seconds(1)).records
        #expect(whilePaused.count == 100)
        #expect(whilePaused.allSatisfy { $0.topicPartition == one }, "records of the paused partition arrived")
        #expect(whilePaused.map(\.offset) == Array(20..<120))

        try await consumer.resume([zero])
        let afterResume = try await KafkaTestKit.records(consumer, count: 100)
        #expect(afterResume.allSatisfy { $0.topicPartition == zero })
        #expect(afterResume.map(\.offset) == Array(20..<120))

        let notAssigned = await #expect(throws: KafkaError.self) {
            try await consumer.pause([KafkaTopicPartition(topic: "elsewhere", partition: 7)])
        }
        #expect(notAssigned?.kind == .pause)
        #expect(notAssigned?.message.contains("elsewhere[7]") == true)
        await consumer.close()
        await cluster.shutdown()
    }

    @Test("seeking back redelivers from there, and no record read before the seek shows up after it")
    func seekBack() async throws {
        let topic = "seek"
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 1, logger: logger)
        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 300, partitions: 1, logger: logger)
        let consumer = try await KafkaTestKit.consumer(
            cluster, group: KafkaTestKit.group("seek"), topic: topic, logger: logger)
        _ = try await KafkaTestKit.assigned(consumer)
        let partition = KafkaTopicPartition(topic: topic, partition: 0)

        // Small batches, so that librdkafka has prefetched more than was returned.
        let first = try await KafkaTestKit.records(consumer, count: 30, maxRecords: 10)
        #expect(first.count >= 30)
        #expect(first.map(\.offset) == Array(0..<Int64(first.count)))
        try await consumer.seek(partition, to: 5)
        let after = try await KafkaTestKit.records(consumer, count: 295, maxRecords: 10)
        #expect(after.first?.offset == 5)
        #expect(after.map(\.offset) == Array(5..<300), "stale or missing records after the seek")

        // Forward too, past what was read.
        try await consumer.seek(partition, to: 250)
        let forward = try await consumer.poll(maxRecords: 10, timeout: .milliseconds(200)).records
        #expect(forward.isEmpty || forward.first?.offset == 250)

        let unassigned = await #expect(throws: KafkaError.self) {
            try await consumer.seek(KafkaTopicPartition(topic: topic, partition: 3), to: 0)
        }
        #expect(unassigned?.kind == .seek)
        #expect(unassigned?.message.contains("seek[3]") == true)
        await consumer.close()
        await cluster.shutdown()
    }

    @Test("a commit from another task while poll waits on an idle topic completes at once; so does a new record")
    func commitWakesAWaitingPoll() async throws {
        let topic = "idle"
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 1, logger: logger)
        let consumer = try await KafkaTestKit.consumer(
            cluster, group: KafkaTestKit.group("idle"), topic: topic, logger: logger)
        _ = try await KafkaTestKit.assigned(consumer)
        let partition = KafkaTopicPartition(topic: topic, partition: 0)

        let clock = ContinuousClock()
        let polling = Task {
            let start = clock.now
            let result = try await consumer.poll(maxRecords: 10, timeout: .seconds(30))
            return (result.records.count, clock.now - start)
        }
        try await Task.sleep(for: .milliseconds(500))
        let commitTime = try await clock.measure {
            try await consumer.commit(offsets: [KafkaPartitionOffset(topic: topic, partition: 0, offset: 0)])
        }
        #expect(commitTime < .seconds(10), "the commit waited \(commitTime) for the poll")
        let (count, pollTime) = try await polling.value
        #expect(count == 0)
        #expect(pollTime < .seconds(10), "the poll held the thread for \(pollTime)")

        // A record produced while poll waits wakes it.
        let waiting = Task {
            let start = clock.now
            let result = try await consumer.poll(maxRecords: 10, timeout: .seconds(30))
            return (result.records, clock.now - start)
        }
        try await Task.sleep(for: .milliseconds(500))
        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 1, partitions: 1, logger: logger)
        let (records, waited) = try await waiting.value
        #expect(records.map(KafkaTestKit.text) == ["v-0"])
        #expect(waited < .seconds(10), "the record took \(waited)")
        #expect(try await consumer.committed([partition], timeout: .seconds(10)) == [partition: 0])
        await consumer.close()
        await cluster.shutdown()
    }

    @Test("committed() returns what was committed and leaves out partitions without a commit")
    func committedOffsets() async throws {
        let topic = "committed"
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 3, logger: logger)
        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 30, partitions: 3, logger: logger)
        let group = KafkaTestKit.group("committed")
        let consumer = try await KafkaTestKit.consumer(cluster, group: group, topic: topic, logger: logger)
        _ = try await KafkaTestKit.assigned(consumer)
        let all = KafkaTestKit.partitions(topic, 3)
        #expect(try await consumer.committed(all, timeout: .seconds(10)) == [:])
        try await consumer.commit(offsets: [
            KafkaPartitionOffset(topic: topic, partition: 0, offset: 7),
            KafkaPartitionOffset(topic: topic, partition: 1, offset: 3),
        ])
        #expect(try await consumer.committed(all, timeout: .seconds(10)) == [all[0]: 7, all[1]: 3])
        // The assignment started before those commits, so all 30 records come.
        let records = try await KafkaTestKit.records(consumer, count: 30)
        let fifth = try #require(records.first { $0.partition == 2 && $0.offset == 4 })
        try await consumer.commit(fifth)
        #expect(try await consumer.committed(all, timeout: .seconds(10)) == [all[0]: 7, all[1]: 3, all[2]: 5])
        #expect(try await consumer.committed([], timeout: .seconds(1)) == [:])
        await consumer.close()

        // A new member of the group starts at the committed offsets.
        let next = try await KafkaTestKit.consumer(cluster, group: group, topic: topic, logger: logger)
        _ = try await KafkaTestKit.assigned(next)
        let resumed = try await KafkaTestKit.records(next, count: 15)
        #expect(resumed.count == 15)
        #expect(resumed.first { $0.partition == 0 }?.offset == 7)
        #expect(resumed.first { $0.partition == 1 }?.offset == 3)
        #expect(resumed.first { $0.partition == 2 }?.offset == 5)
        await next.close()
        await cluster.shutdown()
    }

    @Test("a topic that does not exist yet is logged as a warning, not thrown, and consumed once it exists")
    func missingTopic() async throws {
        let topic = "later"
        let cluster = try await KafkaMockCluster.start(brokerCount: 1, logger: logger)
        // 3 is UNKNOWN_TOPIC_OR_PART, what a broker answers while the topic is created.
        try await cluster.setTopicError(topic, code: 3)
        let logs = LogCapture()
        let captured = logs.logger(label: "idem.tests.kafka-capture", level: .warning)
        var configuration = KafkaTestKit.fastGroup
        configuration["topic.metadata.refresh.interval.ms"] = "1000"
        let consumer = try await KafkaTestKit.consumer(
            cluster, group: KafkaTestKit.group("later"), topic: topic, configuration: configuration,
            logger: captured)
        var results: [KafkaPollResult] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, !logs.lines.contains(where: { $0.contains("UNKNOWN_TOPIC") }) {
            results.append(try await consumer.poll(maxRecords: 10, timeout: .milliseconds(500)))
        }
        #expect(
            logs.lines.contains {
                $0.hasPrefix("warning Kafka consumer error") && $0.contains("UNKNOWN_TOPIC_OR_PART")
            },
            "logged: \(logs.lines)")
        #expect(results.allSatisfy { $0.records.isEmpty && $0.rebalance == nil })

        try await cluster.setTopicError(topic, code: 0)
        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 8, partitions: 4, logger: logger)
        let records = try await KafkaTestKit.records(consumer, count: 8)
        #expect(Set(records.map(KafkaTestKit.text)) == Set((0..<8).map { "v-\($0)" }))
        await consumer.close()
        await cluster.shutdown()
    }

    @Test("validate names each property librdkafka refuses and accepts valid ones")
    func validate() {
        let unknown = KafkaConsumer.validate(configuration: ["no.such.property": "1"])
        #expect(unknown.count == 1)
        #expect(unknown.first?.property == "no.such.property")
        #expect(unknown.first?.kind == .configuration)
        #expect(unknown.first?.message.contains("'no.such.property'") == true)

        let badValue = KafkaConsumer.validate(configuration: ["security.protocol": "bogus"])
        #expect(badValue.map(\.property) == ["security.protocol"])
        #expect(badValue.first?.message.contains("security.protocol") == true)

        let mixed = KafkaConsumer.validate(configuration: [
            "session.timeout.ms": "soon", "fetch.min.bytes": "1", "no.such.thing": "x",
        ])
        #expect(mixed.map(\.property) == ["no.such.thing", "session.timeout.ms"])

        #expect(
            KafkaConsumer.validate(configuration: [
                "session.timeout.ms": "10000", "security.protocol": "plaintext",
                "partition.assignment.strategy": "cooperative-sticky", "queued.max.messages.kbytes": "1024",
            ]) == [])
        #expect(KafkaConsumer.validate(configuration: [:]) == [])
    }

    @Test("closing a member that holds partitions returns, and the group gives them to the others")
    func closeHandsPartitionsOver() async throws {
        let topic = "close"
        let all = KafkaTestKit.partitions(topic, 4)
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 4, logger: logger)
        let group = KafkaTestKit.group("close")
        let ledger = KafkaLedger()
        let first = try await KafkaTestKit.consumer(cluster, group: group, topic: topic, logger: logger)
        let second = try await KafkaTestKit.consumer(cluster, group: group, topic: topic, logger: logger)
        let firstMember = Task { try await KafkaGroupMember(name: "A", consumer: first, ledger: ledger).run() }
        let secondMember = Task { try await KafkaGroupMember(name: "B", consumer: second, ledger: ledger).run() }
        try await ledger.wait(90, "each member holds two partitions") {
            guard let shareA = $0.lastAssignment("A"), let shareB = $0.lastAssignment("B") else { return false }
            return shareA.count == 2 && Set(shareA + shareB) == Set(all)
        }
        let shareA = try #require(await ledger.lastAssignment("A"))
        let shareB = try #require(await ledger.lastAssignment("B"))
        #expect(try await first.assignment() == shareA)
        // A partition paused when it is revoked comes back unpaused when assigned again.
        try await second.pause(shareB)
        let eventsBefore = await ledger.events["B"]?.count ?? 0

        let closeTime = await ContinuousClock().measure { await first.close() }
        #expect(closeTime < .seconds(20), "close took \(closeTime)")
        _ = try await firstMember.value
        let afterClose = await #expect(throws: KafkaError.self) {
            _ = try await first.poll(maxRecords: 1, timeout: .zero)
        }
        #expect(afterClose?.kind == .closed)
        await first.close()

        // The remaining member gives up its share, then gets all four partitions.
        try await ledger.wait(90, "B holds all partitions") { $0.lastAssignment("B") == all }
        let eventsAfter = Array((await ledger.events["B"] ?? []).dropFirst(eventsBefore))
        #expect(eventsAfter.first == .revoke(shareB), "events after the close: \(eventsAfter)")
        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 40, partitions: 4, logger: logger)
        try await ledger.wait(60, "B commits all 40 records") { $0.count >= 40 }
        await ledger.stop()
        _ = try await secondMember.value
        #expect(await ledger.byMember == ["B": 40], "a partition paused before the revocation stayed paused")
        #expect(await ledger.counts.values.allSatisfy { $0 == 1 })
        await second.close()
        await cluster.shutdown()
    }

    @Test("closing with a reported rebalance not completed does not hang")
    func closeWithPendingRebalance() async throws {
        let topic = "close-pending"
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 2, logger: logger)
        let consumer = try await KafkaTestKit.consumer(
            cluster, group: KafkaTestKit.group("pending"), topic: topic, logger: logger)
        let (rebalance, _) = try await KafkaTestKit.nextRebalance(consumer)
        #expect(rebalance == .assign(KafkaTestKit.partitions(topic, 2)))
        let closeTime = await ContinuousClock().measure { await consumer.close() }
        #expect(closeTime < .seconds(20), "close took \(closeTime)")
        await cluster.shutdown()
    }

    @Test("the cooperative-sticky protocol revokes only the partitions that change owner, in two rounds")
    func cooperativeRebalance() async throws {
        let topic = "cooperative"
        let all = KafkaTestKit.partitions(topic, 4)
        let cluster = try await KafkaTestKit.cluster(topic: topic, partitions: 4, logger: logger)
        let group = KafkaTestKit.group("coop")
        var configuration = KafkaTestKit.fastGroup
        configuration["partition.assignment.strategy"] = "cooperative-sticky"
        let ledger = KafkaLedger()
        let first = try await KafkaTestKit.consumer(
            cluster, group: group, topic: topic, configuration: configuration, logger: logger)
        let firstMember = Task { try await KafkaGroupMember(name: "A", consumer: first, ledger: ledger).run() }
        try await ledger.wait(60, "A has all partitions") { $0.events["A"] == [.assign(all)] }

        let second = try await KafkaTestKit.consumer(
            cluster, group: group, topic: topic, configuration: configuration, logger: logger)
        let secondMember = Task { try await KafkaGroupMember(name: "B", consumer: second, ledger: ledger).run() }
        // Round one takes partitions from A; round two gives them to B. Each member must
        // complete every assignment, even an empty one, for the next round to start.
        try await ledger.wait(90, "B has partitions") {
            $0.events["B"]?.contains { if case .assign(let partitions) = $0 { !partitions.isEmpty } else { false } }
                == true
        }
        try await KafkaTestKit.produce(to: cluster, topic: topic, count: 40, partitions: 4, logger: logger)
        try await ledger.wait(60, "all 40 records committed") { $0.count >= 40 }
        await ledger.stop()
        _ = try await firstMember.value
        _ = try await secondMember.value

        let events = await ledger.events
        let revoked = (events["A"] ?? []).compactMap {
            if case .revoke(let partitions) = $0 { partitions } else { nil }
        }
        try #require(revoked.count == 1, "events \(events)")
        let moved = revoked[0]
        #expect(moved.count == 2, "A gave up \(moved), not two of four partitions")
        #expect(try await first.assignment() == all.filter { !moved.contains($0) })
        #expect(try await second.assignment() == moved)
        #expect(!(events["B"] ?? []).contains { if case .revoke = $0 { true } else { false } })
        #expect(await ledger.counts.values.allSatisfy { $0 == 1 })
        #expect(await ledger.byMember == ["A": 20, "B": 20])

        let closeTime = await ContinuousClock().measure { await first.close() }
        #expect(closeTime < .seconds(20), "close took \(closeTime)")
        await second.close()
        await cluster.shutdown()
    }
}

/// Records which member committed which record, and the rebalances each saw.
actor KafkaLedger {
    private(set) var counts: [String: Int] = [:]
    private(set) var byMember: [String: Int] = [:]
    private(set) var events: [String: [KafkaRebalance]] = [:]
    private(set) var stopped = false

    /// How many distinct records were committed.
    var count: Int { counts.count }

    func committed(_ records: [KafkaRecord], by member: String) {
        for record in records {
            counts[KafkaTestKit.text(record), default: 0] += 1
        }
        byMember[member, default: 0] += records.count
    }

    func note(_ rebalance: KafkaRebalance, by member: String) {
        events[member, default: []].append(rebalance)
    }

    func stop() {
        stopped = true
    }

    /// The partitions of `member`'s last event if that is an (eager) assignment.
    func lastAssignment(_ member: String) -> [KafkaTopicPartition]? {
        guard case .assign(let partitions) = events[member]?.last else { return nil }
        return partitions
    }

    /// Waits up to `seconds` for `condition`.
    func wait(_ seconds: Int, _ what: String, _ condition: @Sendable (isolated KafkaLedger) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !condition(self) {
            guard ContinuousClock.now < deadline else {
                throw KafkaTestFailure(
                    "timed out after \(seconds) s waiting until \(what); events \(events), \(count) records")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// One member of a consumer group as a runtime would drive it: poll, commit each batch,
/// and on a revocation commit what is left before completing it. Ends when the ledger
/// stops or the consumer is closed.
struct KafkaGroupMember {
    /// What the member saw, for the test's assertions.
    struct Report: Sendable {
        /// At the first revocation, before completing it.
        var assignmentAtRevoke: [KafkaTopicPartition]?
        var revokeCompletedAt: ContinuousClock.Instant?
        var firstAssignmentAt: ContinuousClock.Instant?
    }

    var name: String
    var consumer: KafkaConsumer
    var ledger: KafkaLedger

    func run() async throws -> Report {
        var report = Report()
        do {
            try await loop(&report)
        } catch let error as KafkaError where error.kind == .closed {
            // The test closed the consumer between a poll and the call after it.
        }
        return report
    }

    private func loop(_ report: inout Report) async throws {
        var uncommitted: [KafkaRecord] = []
        let deadline = ContinuousClock.now + .seconds(180)
        while await !ledger.stopped, ContinuousClock.now < deadline {
            // nil: the test closed the consumer.
            guard let result = try await poll() else { return }
            uncommitted += result.records
            if !uncommitted.isEmpty {
                do {
                    try await consumer.commit(offsets: KafkaTestKit.positions(after: uncommitted))
                    await ledger.committed(uncommitted, by: name)
                    uncommitted = []
                } catch {
                    // Refused during a rebalance (the mock refuses commits while the group
                    // joins): the records will be delivered again.
                }
            }
            guard let rebalance = result.rebalance else { continue }
            switch rebalance {
            case .assign:
                if report.firstAssignmentAt == nil { report.firstAssignmentAt = .now }
                try await consumer.completeRebalance(rebalance)
            case .revoke(let partitions):
                let first = report.assignmentAtRevoke == nil
                if first { report.assignmentAtRevoke = try await consumer.assignment() }
                // Hold the revocation a little: the group must wait for it.
                try await Task.sleep(for: .milliseconds(1000))
                uncommitted.removeAll { partitions.contains($0.topicPartition) }
                try await consumer.completeRebalance(rebalance)
                if first { report.revokeCompletedAt = .now }
            }
            // Noted once completed, so that the test sees the assignment in effect.
            await ledger.note(rebalance, by: name)
        }
    }

    /// The next poll result, or nil once the consumer is closed.
    private func poll() async throws -> KafkaPollResult? {
        do {
            return try await consumer.poll(maxRecords: 50, timeout: .milliseconds(200))
        } catch {
            if error.kind == .closed { return nil }
            throw error
        }
    }
}
