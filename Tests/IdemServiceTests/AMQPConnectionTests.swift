import IdemAMQP
import Testing

/// Connection lifetime against the development RabbitMQ: heartbeats, server-side closes.
@Suite("RabbitMQ connection lifetime")
struct AMQPConnectionTests {
    // The broker closes a connection after two missed heartbeats; 3 s (not less) leaves room
    // for a loaded 2-core CI machine, where the whole suite runs in parallel.
    @Test("a consumer idle-polling with a 3 s heartbeat stays connected for 12 s")
    func heartbeatWhilePolling() async throws {
        let connection = try await AMQPTests.connect(name: AMQPTests.uniqueName("heartbeat"), heartbeat: .seconds(3))
        let queue = AMQPTests.uniqueName("idle")
        try await connection.declareQueue(name: queue, durable: false, autoDelete: true)
        try await connection.startConsuming(queue: queue)
        let end = ContinuousClock.now + .seconds(12)
        while ContinuousClock.now < end {
            #expect(try await connection.nextDeliveries(maxCount: 10, timeout: .milliseconds(500)).isEmpty)
        }
        #expect(await connection.isOpen)
        try await connection.publish(routingKey: queue, body: [7])
        #expect(try await AMQPTests.collect(connection, count: 1).first?.body == [7])
        await connection.close()
    }

    // Without the keep-alive the broker closes such a connection after two missed
    // heartbeats (about 6 s); the interval leaves room for a loaded 2-core CI machine.
    @Test("a connection nobody calls for 10 s with a 3 s heartbeat stays open (keep-alive)")
    func heartbeatWhileIdle() async throws {
        let connection = try await AMQPTests.connect(name: AMQPTests.uniqueName("idle"), heartbeat: .seconds(3))
        try await Task.sleep(for: .seconds(10))
        #expect(await connection.isOpen)
        let queue = AMQPTests.uniqueName("after-idle")
        try await connection.declareQueue(name: queue, durable: false, exclusive: true, autoDelete: true)
        await connection.close()
    }

    @Test("a connection closed by the server fails the next call, naming why; a new one works")
    func serverSideClose() async throws {
        let name = AMQPTests.uniqueName("killed")
        let connection = try await AMQPTests.connect(name: name)
        let queue = AMQPTests.uniqueName("kill")
        try await connection.declareQueue(name: queue, durable: false)
        try await connection.startConsuming(queue: queue)

        let pid = try await AMQPTests.connectionPid(named: name)
        _ = try await AMQPTests.rabbitmqctl(["close_connection", pid, "idem test kill"])
        try await Task.sleep(for: .milliseconds(500))

        let error = await #expect(throws: AMQPError.self) {
            try await connection.publish(routingKey: queue, body: [1])
        }
        #expect(error?.kind == .connectionClosed)
        #expect(error?.replyCode == 320)
        #expect(error?.message.contains("CONNECTION_FORCED") == true)
        #expect(error?.message.contains("idem test kill") == true)
        #expect(error?.isConnectionFailure == true)
        #expect(await connection.isOpen == false)
        // Every later call reports the same failure.
        let again = await #expect(throws: AMQPError.self) {
            try await connection.nextDeliveries(maxCount: 1, timeout: .milliseconds(10))
        }
        #expect(again == error)
        await connection.close()
        await connection.close()

        let fresh = try await AMQPTests.connect(name: name)
        try await fresh.publishAndConfirm(routingKey: queue, body: [2])
        #expect(try await fresh.get(queue: queue, autoAck: true)?.body == [2])
        try await fresh.deleteQueue(queue)
        await fresh.close()
        let closed = await #expect(throws: AMQPError.self) { try await fresh.ack(deliveryTag: 1) }
        #expect(closed?.kind == .closed)
    }

    @Test("a socket that dies under an idle consumer is noticed by its poll")
    func serverSideCloseWhilePolling() async throws {
        let name = AMQPTests.uniqueName("killed-polling")
        let connection = try await AMQPTests.connect(name: name)
        let queue = AMQPTests.uniqueName("kill-poll")
        try await connection.declareQueue(name: queue, durable: false, autoDelete: true)
        try await connection.startConsuming(queue: queue)
        let pid = try await AMQPTests.connectionPid(named: name)
        async let killed = AMQPTests.rabbitmqctl(["close_connection", pid, "idem test poll"])
        var failure: AMQPError?
        let deadline = ContinuousClock.now + .seconds(15)
        while failure == nil, ContinuousClock.now < deadline {
            do {
                _ = try await connection.nextDeliveries(maxCount: 10, timeout: .milliseconds(200))
            } catch {
                failure = error
            }
        }
        _ = try await killed
        #expect(failure?.kind == .connectionClosed)
        #expect(failure?.message.contains("idem test poll") == true)
        await connection.close()
    }
}
