import IdemKafka
import Testing

@testable import IdemKafkaConsumer

/// The partition worker's bookkeeping, without a broker: back-pressure with hysteresis, and
/// records routed before a seek never processed after it.
@Suite("Kafka partition worker")
struct KafkaPartitionWorkerTests {
    static let partition = KafkaTopicPartition(topic: "t", partition: 0)

    static func records(_ offsets: ClosedRange<Int64>) -> [KafkaRecord] {
        offsets.map {
            KafkaRecord(topic: "t", partition: 0, offset: $0, key: nil, value: [], headers: [], timestamp: nil)
        }
    }

    @Test func pausesPastCapacityAndResumesOnceHalfIsFree() async {
        let worker = KafkaPartitionWorker(partition: Self.partition, capacity: 4, byteCapacity: 1 << 20)
        worker.route(Self.records(0...3))
        #expect(worker.backpressure() == (pause: false, resume: false), "at capacity, not past it")
        worker.route(Self.records(4...4))
        #expect(worker.backpressure() == (pause: true, resume: false))
        #expect(worker.backpressure() == (pause: false, resume: false), "paused once")
        #expect(await worker.nextBatch(maxCount: 2, maxWait: .zero).map(\.offset) == [0, 1])
        #expect(worker.backpressure() == (pause: false, resume: false), "3 left: more than half")
        #expect(await worker.nextBatch(maxCount: 1, maxWait: .zero).map(\.offset) == [2])
        #expect(worker.backpressure() == (pause: false, resume: true))
        #expect(worker.backpressure() == (pause: false, resume: false), "resumed once")
    }

    @Test func pausesPastByteCapacityAndResumesOnceHalfIsFree() async {
        let big = KafkaRecord(
            topic: "t", partition: 0, offset: 0, key: nil, value: Array(repeating: 7, count: 1000), headers: [],
            timestamp: nil)
        let size = KafkaPartitionWorker.footprint(big)
        let worker = KafkaPartitionWorker(partition: Self.partition, capacity: 1000, byteCapacity: size * 3)
        worker.route(
            (Int64(0)...3).map { offset in
                var record = big
                record.offset = offset
                return record
            })
        #expect(worker.bufferedBytes == size * 4)
        #expect(worker.backpressure() == (pause: true, resume: false), "4 records are past 3 records' bytes")
        #expect(await worker.nextBatch(maxCount: 2, maxWait: .zero).map(\.offset) == [0, 1])
        #expect(worker.backpressure() == (pause: false, resume: false), "2 records left: more than half")
        #expect(await worker.nextBatch(maxCount: 1, maxWait: .zero).map(\.offset) == [2])
        #expect(worker.bufferedBytes == size)
        #expect(worker.backpressure() == (pause: false, resume: true))
    }

    @Test func recordsRoutedBeforeASeekAreDropped() async {
        let worker = KafkaPartitionWorker(partition: Self.partition, capacity: 100, byteCapacity: 1 << 20)
        worker.route(Self.records(10...14))
        #expect(await worker.nextBatch(maxCount: 2, maxWait: .zero).map(\.offset) == [10, 11])
        // Offset 12 failed: the worker asks for a seek back to it. What was routed before
        // the seek (12-14, and 15-16 fetched meanwhile) must not be processed.
        let generation = worker.awaitSeek()
        worker.route(Self.records(15...16))
        worker.seeked(to: generation)
        worker.route(Self.records(12...13))
        #expect(await worker.nextBatch(maxCount: 10, maxWait: .zero).map(\.offset) == [12, 13])
        worker.done(below: 14)
        #expect(worker.committable == 14)
    }

    @Test func aBatchTakesWhatArrivedWhileItWaitedUpToTheLimit() async {
        let worker = KafkaPartitionWorker(partition: Self.partition, capacity: 100, byteCapacity: 1 << 20)
        worker.route(Self.records(0...2))
        var batch = await worker.nextBatch(maxCount: 2, maxWait: .zero, limit: 2)
        #expect(batch.map(\.offset) == [0, 1])
        worker.route(Self.records(3...9))
        worker.topUp(&batch, limit: 6)
        #expect(batch.map(\.offset) == [0, 1, 2, 3, 4, 5])
        #expect(worker.buffered == 4)
        // After a seek request, what was routed before it is not added.
        _ = worker.awaitSeek()
        var next = [KafkaRecord]()
        worker.topUp(&next, limit: 10)
        #expect(next.isEmpty)
    }

    @Test func stoppingEndsTheWorkersBatches() async {
        let worker = KafkaPartitionWorker(partition: Self.partition, capacity: 100, byteCapacity: 1 << 20)
        let taken = Taken()
        worker.start { worker in
            while true {
                let batch = await worker.nextBatch(maxCount: 10, maxWait: .zero)
                if batch.isEmpty { return }
                await taken.add(batch.count)
            }
        }
        worker.route(Self.records(0...4))
        while await taken.count < 5 { await Task.yield() }
        await worker.stop()
        #expect(await taken.count == 5)
    }

    /// A revocation waits for the batch in flight only: the records buffered behind it are
    /// the next owner's to fetch, so that a rebalance does not wait for a worker to work off
    /// thousands of prefetched records.
    @Test func stoppingDropsTheRecordsBehindTheBatchInFlight() async throws {
        let worker = KafkaPartitionWorker(partition: Self.partition, capacity: 100, byteCapacity: 1 << 20)
        let taken = Taken()
        let (gate, open) = AsyncStream<Void>.makeStream()
        worker.start { worker in
            while true {
                let batch = await worker.nextBatch(maxCount: 1, maxWait: .zero)
                if batch.isEmpty { return }
                await taken.add(batch.count)
                for await _ in gate { break }
            }
        }
        worker.route(Self.records(0...4))
        while await taken.count < 1 { await Task.yield() }
        let stopping = Task { await worker.stop() }
        let deadline = ContinuousClock.now + .seconds(10)
        while worker.buffered > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        #expect(worker.buffered == 0, "stopping drops what is buffered")
        #expect(worker.bufferedBytes == 0)
        open.yield()
        open.finish()
        await stopping.value
        #expect(await taken.count == 1, "only the batch in flight was processed")
    }
}

private actor Taken {
    var count = 0
    func add(_ n: Int) { count += n }
}
