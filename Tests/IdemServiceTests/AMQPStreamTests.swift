import IdemAMQP
import Testing

/// RabbitMQ streams through AMQP 0-9-1, as the stream source relies on them: a consumer
/// attaches at an offset (`x-stream-offset`), every delivery carries its offset in the
/// `x-stream-offset` header, acks only return credit (the log stays whole), and a nack
/// closes the connection (so idem never sends one to a stream).
@Suite("RabbitMQ streams")
struct AMQPStreamTests {
    @Test(
        "a consumer attached at offset 4 gets offsets 4 to 9 in order; acks remove nothing; a nack closes the connection"
    )
    func attachAtOffset() async throws {
        let connection = try await AMQPTests.connect()
        let stream = AMQPTests.uniqueName("stream")
        try await connection.declareQueue(name: stream, durable: true, arguments: ["x-queue-type": .utf8("stream")])
        try await connection.confirmSelect()
        for index in 0..<10 {
            try await connection.publishAndConfirm(
                exchange: "", routingKey: stream, body: Array("record \(index)".utf8),
                properties: AMQPProperties(messageId: "r-\(index)"), mandatory: true)
        }
        try await connection.setPrefetch(count: 100)
        let tag = try await connection.startConsuming(queue: stream, arguments: ["x-stream-offset": .i64(4)])
        let deliveries = try await AMQPTests.collect(connection, count: 6, timeout: .seconds(10))
        #expect(deliveries.map { $0.properties.headers["x-stream-offset"] } == (4...9).map { .i64(Int64($0)) })
        #expect(deliveries.map(\.messageId) == (4...9).map { "r-\($0)" })
        try await connection.ack(deliveryTag: deliveries.last!.deliveryTag, multiple: true)
        try await connection.cancelConsuming(consumerTag: tag)
        await connection.close()

        // A second consumer from the first offset reads the whole log again.
        let reader = try await AMQPTests.connect()
        try await reader.setPrefetch(count: 100)
        _ = try await reader.startConsuming(queue: stream, arguments: ["x-stream-offset": .utf8("first")])
        let again = try await AMQPTests.collect(reader, count: 10, timeout: .seconds(10))
        #expect(again.map(\.messageId) == (0..<10).map { "r-\($0)" })
        try await reader.nack(deliveryTag: again[0].deliveryTag, multiple: false, requeue: true)
        await #expect(throws: AMQPError.self) {
            _ = try await AMQPTests.collect(reader, count: 1, timeout: .seconds(5))
        }
        await reader.close()

        let cleaner = try await AMQPTests.connect()
        try await cleaner.deleteQueue(stream)
        await cleaner.close()
    }
}
