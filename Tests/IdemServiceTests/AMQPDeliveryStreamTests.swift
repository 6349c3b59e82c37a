import IdemAMQP
import Testing

/// The bounded delivery stream against the development RabbitMQ.
@Suite("RabbitMQ delivery stream")
struct AMQPDeliveryStreamTests {
    @Test("a stream sized to the prefetch delivers every message once, in order, in batches")
    func streamInBatches() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("stream")
        try await connection.declareQueue(name: queue, durable: false)
        for index in 0..<300 {
            try await connection.publish(routingKey: queue, body: Array("m\(index)".utf8))
        }
        #expect(try await AMQPTests.waitForReady(connection, queue: queue, count: 300) == 300)
        try await connection.setPrefetch(count: 40)
        try await connection.startConsuming(queue: queue)
        let stream = connection.deliveries(capacity: 40)

        var received: [AMQPDelivery] = []
        while received.count < 300 {
            let batch = try await stream.nextBatch(maxCount: 25, maxWait: .milliseconds(50))
            #expect(!batch.isEmpty && batch.count <= 25)
            #expect(stream.buffered <= 40, "never more than the capacity buffered")
            received += batch
            try await connection.ack(deliveryTag: batch.last!.deliveryTag, multiple: true)
        }
        #expect(received.map(\.body) == (0..<300).map { Array("m\($0)".utf8) })
        stream.stop()
        #expect(try await stream.nextBatch(maxCount: 10, maxWait: .zero).isEmpty, "a stopped stream ends")
        #expect(try await connection.inspectQueue(queue).messageCount == 0)
        try await connection.deleteQueue(queue)
        await connection.close()
    }

    @Test("acks and publishes do not wait for the stream's read on the connection's thread")
    func commandsGoAheadOfAnIdleRead() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("stream-idle")
        try await connection.declareQueue(name: queue, durable: false)
        try await connection.setPrefetch(count: 10)
        try await connection.startConsuming(queue: queue)
        let stream = connection.deliveries(capacity: 10)
        // The queue is empty: the pump waits for the socket, up to a second per read. Each
        // publish below would wait that second if it queued behind the read.
        let clock = ContinuousClock()
        let started = clock.now
        for index in 0..<20 {
            try await Task.sleep(for: .milliseconds(5))
            try await connection.publish(routingKey: queue, body: [UInt8(index)])
            let delivery = try #require(try await stream.nextBatch(maxCount: 1, maxWait: .zero).first)
            #expect(delivery.body == [UInt8(index)])
            try await connection.ack(deliveryTag: delivery.deliveryTag)
        }
        let elapsed = clock.now - started
        #expect(elapsed < .seconds(15), "20 publish-consume-ack rounds took \(elapsed)")
        stream.stop()
        try await connection.deleteQueue(queue)
        await connection.close()
    }

    @Test("the stream ends with the error that closed the channel")
    func streamEndsWithChannelError() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("stream-deleted")
        try await connection.declareQueue(name: queue, durable: false)
        try await connection.startConsuming(queue: queue)
        let stream = connection.deliveries(capacity: 10)
        let other = try await AMQPTests.connect()
        try await other.deleteQueue(queue)
        await other.close()
        await #expect(throws: AMQPError.self) {
            while true { _ = try await stream.nextBatch(maxCount: 10, maxWait: .zero) }
        }
        await connection.close()
    }
}
