import Testing

@testable import IdemConcurrency

@Suite("AsyncBoundedBuffer")
struct AsyncBoundedBufferTests {
    struct Failure: Error, Equatable {}

    @Test func aBatchTakesWhatIsThereUpToTheCount() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 10)
        buffer.append(contentsOf: 1...5)
        #expect(try await buffer.nextBatch(maxCount: 3, maxWait: .zero) == [1, 2, 3])
        #expect(try await buffer.nextBatch(maxCount: 3, maxWait: .zero) == [4, 5])
    }

    @Test func aBatchWaitsForItsFirstElement() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 4)
        async let batch = buffer.nextBatch(maxCount: 4, maxWait: .zero)
        try await Task.sleep(for: .milliseconds(20))
        buffer.append(contentsOf: [7])
        #expect(try await batch == [7])
    }

    @Test func aBatchFillsUntilItsCountWithinTheWait() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 8)
        buffer.append(contentsOf: [1])
        async let batch = buffer.nextBatch(maxCount: 3, maxWait: .seconds(60))
        try await Task.sleep(for: .milliseconds(20))
        buffer.append(contentsOf: [2])
        buffer.append(contentsOf: [3, 4])
        // The batch returns as soon as it holds 3, long before the 60 s wait.
        #expect(try await batch == [1, 2, 3])
        #expect(buffer.count == 1)
    }

    @Test func aBatchReturnsPartlyFilledAfterTheWait() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 8)
        buffer.append(contentsOf: [1, 2])
        #expect(try await buffer.nextBatch(maxCount: 5, maxWait: .milliseconds(30)) == [1, 2])
    }

    @Test func theProducerWaitsForRoom() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 2)
        #expect(await buffer.waitForSpace() == 2)
        buffer.append(contentsOf: [1, 2])
        let producer = Task { await buffer.waitForSpace() }
        try await Task.sleep(for: .milliseconds(20))
        #expect(try await buffer.nextBatch(maxCount: 1, maxWait: .zero) == [1])
        #expect(await producer.value == 1)
    }

    @Test func finishingHandsOverWhatIsLeftThenTheError() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 4)
        buffer.append(contentsOf: [1, 2])
        buffer.finish(throwing: Failure())
        #expect(try await buffer.nextBatch(maxCount: 10, maxWait: .seconds(60)) == [1, 2])
        await #expect(throws: Failure.self) { try await buffer.nextBatch(maxCount: 10, maxWait: .zero) }
        #expect(await buffer.waitForSpace() == 0)
    }

    @Test func aBatchTakesUpToTheLimitWhenMoreAreAtHand() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 100)
        buffer.append(contentsOf: 0..<10)
        #expect(try await buffer.nextBatch(maxCount: 3, maxWait: .seconds(60), limit: 8) == Array(0..<8))
        #expect(try await buffer.nextBatch(maxCount: 3, maxWait: .zero, limit: 8) == [8, 9])
        buffer.append(contentsOf: 10..<14)
        #expect(buffer.takeAvailable(maxCount: 3) == [10, 11, 12])
        #expect(buffer.takeAvailable(maxCount: 3) == [13])
        #expect(buffer.takeAvailable(maxCount: 3) == [], "never waits")
    }

    @Test func finishingDiscardingTheRestEndsAtOnce() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 4)
        buffer.append(contentsOf: [1, 2, 3])
        buffer.finish(discardingRemaining: true)
        #expect(buffer.count == 0)
        #expect(try await buffer.nextBatch(maxCount: 10, maxWait: .seconds(60)) == [])
        buffer.append(contentsOf: [4])
        #expect(try await buffer.nextBatch(maxCount: 10, maxWait: .zero) == [], "a finished buffer takes nothing")
    }

    @Test func finishingWakesAWaitingConsumer() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 4)
        let consumer = Task { try await buffer.nextBatch(maxCount: 1, maxWait: .zero) }
        try await Task.sleep(for: .milliseconds(20))
        buffer.finish()
        #expect(try await consumer.value == [])
    }

    @Test func cancellingAWaitingConsumerThrows() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 4)
        let consumer = Task { try await buffer.nextBatch(maxCount: 1, maxWait: .zero) }
        try await Task.sleep(for: .milliseconds(20))
        consumer.cancel()
        await #expect(throws: CancellationError.self) { try await consumer.value }
    }

    @Test func cancellingAWaitingProducerReturnsZero() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 1)
        buffer.append(contentsOf: [1])
        let producer = Task { await buffer.waitForSpace() }
        try await Task.sleep(for: .milliseconds(20))
        producer.cancel()
        #expect(await producer.value == 0)
    }

    @Test func iteratesAsAnAsyncSequence() async throws {
        let buffer = AsyncBoundedBuffer<Int>(capacity: 100)
        let producer = Task {
            for value in 0..<1000 {
                guard await buffer.waitForSpace() > 0 else { return }
                buffer.append(contentsOf: [value])
            }
            buffer.finish()
        }
        var seen: [Int] = []
        for try await value in buffer { seen.append(value) }
        await producer.value
        #expect(seen == Array(0..<1000))
    }
}

@Suite("AsyncSemaphore")
struct AsyncSemaphoreTests {
    actor Gauge {
        var current = 0
        var highest = 0
        func enter() {
            current += 1
            highest = max(highest, current)
        }
        func leave() { current -= 1 }
    }

    @Test func neverMoreHoldersThanPermits() async {
        let semaphore = AsyncSemaphore(permits: 3)
        let gauge = Gauge()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    await semaphore.withPermit {
                        await gauge.enter()
                        try? await Task.sleep(for: .milliseconds(2))
                        await gauge.leave()
                    }
                }
            }
        }
        #expect(await gauge.highest == 3)
        #expect(await gauge.current == 0)
    }
}
