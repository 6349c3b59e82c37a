import IdemKafka
import Testing

@testable import IdemKafkaConsumer

/// The turns of the Kafka batch runner: batches that wait for a turn are merged, in the
/// order they came, within the record and batch limits; a turn is given back only when
/// nothing waits.
@Suite("Kafka batch queue")
struct KafkaBatchQueueTests {
    static func entry(_ partition: Int32, count: Int) -> KafkaBatchQueue.Entry {
        let worker = KafkaPartitionWorker(
            partition: KafkaTopicPartition(topic: "t", partition: partition), capacity: 100, byteCapacity: 1 << 20)
        let records = (0..<count).map {
            KafkaRecord(
                topic: "t", partition: partition, offset: Int64($0), key: nil, value: [], headers: [], timestamp: nil)
        }
        return KafkaBatchQueue.Entry(worker: worker, records: records) {}
    }

    static func partitions(_ entries: [KafkaBatchQueue.Entry]?) -> [Int32]? {
        entries?.map(\.worker.partition.partition)
    }

    @Test func batchesThatWaitForATurnShareTheNextOne() {
        let queue = KafkaBatchQueue(turns: 1, maxRecords: 100, maxBatches: .max)
        #expect(Self.partitions(queue.submit(Self.entry(0, count: 10))) == [0], "a free turn runs at once")
        #expect(queue.submit(Self.entry(1, count: 10)) == nil, "no turn free: it waits")
        #expect(queue.submit(Self.entry(2, count: 10)) == nil)
        #expect(Self.partitions(queue.next()) == [1, 2], "the turn takes every batch waiting, in order")
        #expect(queue.next() == nil, "nothing waits: the turn is free again")
        #expect(Self.partitions(queue.submit(Self.entry(3, count: 10))) == [3])
    }

    @Test func aTurnStopsAtTheRecordLimitButAlwaysTakesOneBatch() {
        let queue = KafkaBatchQueue(turns: 1, maxRecords: 25, maxBatches: .max)
        _ = queue.submit(Self.entry(0, count: 1))
        for partition in Int32(1)...4 { #expect(queue.submit(Self.entry(partition, count: 10)) == nil) }
        #expect(Self.partitions(queue.next()) == [1, 2], "a third would pass 25 records")
        #expect(Self.partitions(queue.next()) == [3, 4])
        let big = KafkaBatchQueue(turns: 1, maxRecords: 25, maxBatches: .max)
        #expect(Self.partitions(big.submit(Self.entry(0, count: 40))) == [0], "a batch over the limit runs alone")
    }

    @Test func oneBatchPerTurnWhereATransactionHoldsOnePartition() {
        let queue = KafkaBatchQueue(turns: 2, maxRecords: 1000, maxBatches: 1)
        #expect(Self.partitions(queue.submit(Self.entry(0, count: 5))) == [0])
        #expect(Self.partitions(queue.submit(Self.entry(1, count: 5))) == [1], "two turns at a time")
        #expect(queue.submit(Self.entry(2, count: 5)) == nil)
        #expect(queue.submit(Self.entry(3, count: 5)) == nil)
        #expect(Self.partitions(queue.next()) == [2])
        #expect(Self.partitions(queue.next()) == [3])
        #expect(queue.next() == nil)
        #expect(queue.next() == nil)
        #expect(Self.partitions(queue.submit(Self.entry(4, count: 5))) == [4], "both turns were given back")
    }
}
