import IdemAMQP
import Testing

/// Consuming with `basic.consume` against the development RabbitMQ.
@Suite("RabbitMQ consuming")
struct AMQPConsumeTests {
    @Test("500 messages with prefetch 50, acked in batches with multiple: none left")
    func consumeWithPrefetch() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("consume")
        try await connection.declareQueue(name: queue, durable: false)
        for index in 0..<500 {
            try await connection.publish(
                routingKey: queue, body: Array("message \(index)".utf8),
                properties: AMQPProperties(messageId: "m-\(index)"))
        }
        #expect(try await AMQPTests.waitForReady(connection, queue: queue, count: 500) == 500)

        try await connection.setPrefetch(count: 50)
        let tag = try await connection.startConsuming(queue: queue, consumerTag: "idem-test-consumer")
        #expect(tag == "idem-test-consumer")
        #expect(await connection.activeConsumerTags == [tag])

        // Without acks, the broker stops at the prefetch limit.
        let first = try await AMQPTests.collect(connection, count: 60, timeout: .seconds(2))
        #expect(first.count == 50)
        #expect(first.allSatisfy { $0.consumerTag == tag && $0.routingKey == queue && !$0.redelivered })

        var received = first
        try await connection.ack(deliveryTag: first.last!.deliveryTag, multiple: true)
        while received.count < 500 {
            let batch = try await connection.nextDeliveries(maxCount: 25, timeout: .seconds(5))
            #expect(!batch.isEmpty)
            if batch.isEmpty { break }
            #expect(batch.count <= 25)
            received += batch
            try await connection.ack(deliveryTag: batch.last!.deliveryTag, multiple: true)
        }
        #expect(received.count == 500)
        #expect(Set(received.compactMap(\.messageId)).count == 500)
        #expect(received.map(\.deliveryTag) == Array(1...500), "tags increase by one per delivery")
        #expect(received[7].body == Array("message 7".utf8), "the queue keeps publish order")

        try await connection.cancelConsuming(consumerTag: tag)
        #expect(await connection.activeConsumerTags.isEmpty)
        await connection.close()

        // Anything unacknowledged would be back in the queue now.
        let checker = try await AMQPTests.connect()
        #expect(try await checker.inspectQueue(queue).messageCount == 0)
        try await checker.deleteQueue(queue)
        await checker.close()
    }

    @Test("nack with requeue redelivers with redelivered set; reject without requeue drops")
    func nackAndReject() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("nack")
        try await connection.declareQueue(name: queue, durable: false)
        try await connection.setPrefetch(count: 10)
        try await connection.publish(routingKey: queue, body: [1])
        try await connection.startConsuming(queue: queue)

        let first = try #require(try await AMQPTests.collect(connection, count: 1).first)
        #expect(first.body == [1])
        #expect(!first.redelivered)
        try await connection.nack(deliveryTag: first.deliveryTag, requeue: true)

        let again = try #require(try await AMQPTests.collect(connection, count: 1).first)
        #expect(again.body == [1])
        #expect(again.redelivered)
        #expect(again.deliveryTag > first.deliveryTag)
        try await connection.reject(deliveryTag: again.deliveryTag, requeue: false)

        #expect(try await connection.nextDeliveries(maxCount: 10, timeout: .milliseconds(300)).isEmpty)
        #expect(try await connection.inspectQueue(queue).messageCount == 0)
        try await connection.deleteQueue(queue)
        await connection.close()
    }

    @Test("a channel error while deliveries stream in drops them; consuming again gets each message")
    func channelErrorWhileConsuming() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("channel-error")
        try await connection.declareQueue(name: queue, durable: false)
        // Large bodies, so that deliveries are still streaming in during the next call.
        let padding = [UInt8](repeating: UInt8(ascii: " "), count: 20_000)
        for index in 0..<300 {
            try await connection.publish(routingKey: queue, body: Array("\(index)".utf8) + padding)
        }
        #expect(try await AMQPTests.waitForReady(connection, queue: queue, count: 300) == 300)
        // No prefetch limit: the broker streams all 6 MB at once, and deliveries arrive
        // while it answers this with 406; librabbitmq queues those.
        try await connection.startConsuming(queue: queue)
        let error = await #expect(throws: AMQPError.self) {
            try await connection.declareQueue(name: queue, durable: true)
        }
        #expect(error?.replyCode == 406)
        #expect(await connection.activeConsumerTags.isEmpty)
        #expect(try await connection.nextDeliveries(maxCount: 500, timeout: .milliseconds(200)).count == 0)

        // Same connection, new channel: every message exactly once more.
        try await connection.setPrefetch(count: 100)
        try await connection.startConsuming(queue: queue)
        var bodies: Set<String> = []
        let deadline = ContinuousClock.now + .seconds(20)
        while bodies.count < 300, ContinuousClock.now < deadline {
            let batch = try await connection.nextDeliveries(maxCount: 100, timeout: .milliseconds(200))
            #expect(batch.count <= 100)
            for delivery in batch {
                bodies.insert(String(decoding: delivery.body.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self))
                try await connection.ack(deliveryTag: delivery.deliveryTag)
            }
        }
        #expect(bodies.count == 300)
        #expect(try await connection.inspectQueue(queue).messageCount == 0)
        #expect(await connection.isOpen)
        try await connection.deleteQueue(queue)
        await connection.close()
    }

    @Test("an empty poll waits about its timeout and returns nothing")
    func emptyPoll() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("empty")
        try await connection.declareQueue(name: queue, durable: false, autoDelete: true)
        try await connection.startConsuming(queue: queue)
        let started = ContinuousClock.now
        let deliveries = try await connection.nextDeliveries(maxCount: 10, timeout: .milliseconds(300))
        let elapsed = ContinuousClock.now - started
        #expect(deliveries.isEmpty)
        #expect(elapsed >= .milliseconds(290))
        #expect(elapsed < .seconds(30), "it returns, rather than waiting for a delivery")
        await #expect(throws: AMQPError.self) {
            try await connection.nextDeliveries(maxCount: 0, timeout: .zero)
        }
        await connection.close()
    }

    @Test("a consumer whose queue is deleted is reported once, after its deliveries")
    func serverCancel() async throws {
        let connection = try await AMQPTests.connect()
        let admin = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("cancelled")
        try await connection.declareQueue(name: queue, durable: false)
        try await connection.publish(routingKey: queue, body: [9])
        let tag = try await connection.startConsuming(queue: queue)
        let delivery = try #require(try await AMQPTests.collect(connection, count: 1).first)
        try await connection.ack(deliveryTag: delivery.deliveryTag)

        try await admin.deleteQueue(queue)
        var cancelled: AMQPError?
        let deadline = ContinuousClock.now + .seconds(5)
        while cancelled == nil, ContinuousClock.now < deadline {
            do {
                _ = try await connection.nextDeliveries(maxCount: 10, timeout: .milliseconds(100))
            } catch {
                cancelled = error
            }
        }
        #expect(cancelled?.kind == .consumerCancelled)
        #expect(cancelled?.message.contains(tag) == true)
        #expect(await connection.activeConsumerTags.isEmpty)
        #expect(try await connection.nextDeliveries(maxCount: 10, timeout: .milliseconds(50)).isEmpty)
        #expect(await connection.isOpen)
        await connection.close()
        await admin.close()
    }
}
