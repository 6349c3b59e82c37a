import IdemAMQP
import Testing

/// Publishing, publisher confirms and header tables against the development RabbitMQ.
@Suite("RabbitMQ publishing")
struct AMQPPublishTests {
    @Test("every property and a header table of every type survive the broker")
    func headerRoundTrip() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("headers")
        try await connection.declareQueue(name: queue, durable: false)
        var headers = AMQPTableTests.everyType
        headers["u64"] = .u64(UInt64.max)  // passed through as sent (see the delay-queue test)
        let properties = AMQPProperties(
            contentType: "application/json", contentEncoding: "identity",
            headers: headers, deliveryMode: .persistent, priority: 3,
            correlationId: "corr-1", replyTo: "replies", expiration: "60000", messageId: "msg-1",
            timestamp: 1_700_000_123, type: "order.created", userId: "guest", appId: "idem-tests")
        try await connection.publishAndConfirm(
            routingKey: queue, body: Array("{}".utf8), properties: properties, mandatory: true)

        try await connection.startConsuming(queue: queue)
        let delivery = try #require(try await AMQPTests.collect(connection, count: 1).first)
        #expect(delivery.properties == properties)
        #expect(delivery.headers.keys == headers.keys, "the broker keeps the order")
        #expect(delivery.headers["array"]?.arrayValue?[3].tableValue?["deep"] == ["deeper": .u8(7)])
        #expect(delivery.body == Array("{}".utf8))
        try await connection.ack(deliveryTag: delivery.deliveryTag)
        try await connection.deleteQueue(queue)
        await connection.close()
    }

    @Test("publishing several messages in one call keeps their order and numbers their confirms")
    func batchPublish() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("batch")
        try await connection.declareQueue(name: queue, durable: false)
        try await connection.confirmSelect()
        let messages = (1...5).map { n in
            AMQPOutgoingMessage(
                routingKey: queue, body: Array("m\(n)".utf8), properties: AMQPProperties(messageId: "id-\(n)"))
        }
        #expect(try await connection.publish(messages) == 5)
        #expect(try await connection.publish(Array(messages.prefix(1))) == 6)
        try await connection.waitForConfirms()
        try await connection.startConsuming(queue: queue)
        let deliveries = try await AMQPTests.collect(connection, count: 6)
        #expect(deliveries.map { String(decoding: $0.body, as: UTF8.self) } == ["m1", "m2", "m3", "m4", "m5", "m1"])
        #expect(deliveries.map(\.properties.messageId) == ["id-1", "id-2", "id-3", "id-4", "id-5", "id-1"])
        // A message that cannot be sent fails the call; the ones before it were sent.
        let bad = AMQPOutgoingMessage(routingKey: String(repeating: "q", count: 256), body: [])
        let error = await #expect(throws: AMQPError.self) { try await connection.publish([messages[1], bad]) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.message.contains("routing key") == true)
        try await connection.waitForConfirms()
        let after = try await AMQPTests.collect(connection, count: 1)
        #expect(after.map(\.properties.messageId) == ["id-2"])
        try await connection.deleteQueue(queue)
        await connection.close()
    }

    @Test("queue arguments are sent as a table: redeclaring with others is refused")
    func queueArguments() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("arguments")
        let arguments: AMQPTable = [
            "x-message-ttl": .i32(60_000), "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "\(queue).dlq", "x-max-length": .i64(1_000),
        ]
        try await connection.declareQueue(name: queue, durable: false, arguments: arguments)
        try await connection.declareQueue(name: queue, durable: false, arguments: arguments)
        let error = await #expect(throws: AMQPError.self) {
            try await connection.declareQueue(
                name: queue, durable: false, arguments: ["x-message-ttl": .i32(1_000)])
        }
        #expect(error?.kind == .channelClosed)
        #expect(error?.replyCode == 406)
        #expect(error?.message.contains("x-message-ttl") == true)
        try await connection.deleteQueue(queue)
        await connection.close()
    }

    @Test("publishAndConfirm: routed succeeds, unroutable mandatory fails, a missing exchange closes the channel")
    func confirms() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("confirm")
        let exchange = AMQPTests.uniqueName("exchange")
        try await connection.declareQueue(name: queue, durable: false)
        try await connection.declareExchange(name: exchange, type: "direct", durable: false, autoDelete: false)
        try await connection.bindQueue(queue: queue, exchange: exchange, routingKey: "routed")

        try await connection.publishAndConfirm(exchange: exchange, routingKey: "routed", body: [1], mandatory: true)
        let unroutable = await #expect(throws: AMQPError.self) {
            try await connection.publishAndConfirm(
                exchange: exchange, routingKey: "nowhere", body: [2], mandatory: true)
        }
        #expect(unroutable?.kind == .unroutable)
        #expect(unroutable?.replyCode == 312)
        #expect(unroutable?.message.contains("NO_ROUTE") == true)
        #expect(unroutable?.message.contains("nowhere") == true)
        // Not mandatory: the broker confirms an unroutable message.
        try await connection.publishAndConfirm(exchange: exchange, routingKey: "nowhere", body: [3])

        let missing = await #expect(throws: AMQPError.self) {
            try await connection.publishAndConfirm(
                exchange: AMQPTests.uniqueName("missing"), routingKey: "x", body: [4], mandatory: true)
        }
        #expect(missing?.kind == .channelClosed)
        #expect(missing?.replyCode == 404)
        // The reopened channel is in confirm mode again, numbering from 1.
        #expect(try await connection.publish(exchange: exchange, routingKey: "routed", body: [5]) == 1)
        try await connection.publishAndConfirm(exchange: exchange, routingKey: "routed", body: [6])
        #expect(try await AMQPTests.waitForReady(connection, queue: queue, count: 3) == 3)

        try await connection.deleteExchange(exchange)
        try await connection.deleteQueue(queue)
        await connection.close()
    }

    @Test("waitForConfirms covers a batch and reports a returned message")
    func batchConfirms() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("batch")
        try await connection.declareQueue(name: queue, durable: false)
        try await connection.confirmSelect()
        var sequences: [UInt64] = []
        for index in 0..<200 {
            sequences.append(try await connection.publish(routingKey: queue, body: [UInt8(index % 256)]))
        }
        #expect(sequences == Array(1...200))
        try await connection.waitForConfirms()
        #expect(try await connection.inspectQueue(queue).messageCount == 200)

        try await connection.publish(routingKey: queue, body: [1], mandatory: true)
        try await connection.publish(routingKey: AMQPTests.uniqueName("no-queue"), body: [2], mandatory: true)
        let error = await #expect(throws: AMQPError.self) { try await connection.waitForConfirms() }
        #expect(error?.kind == .unroutable)
        try await connection.waitForConfirms()
        try await connection.deleteQueue(queue)
        await connection.close()
    }

    @Test("deliveries that arrive while waiting for a confirm are kept")
    func deliveriesDuringConfirm() async throws {
        let connection = try await AMQPTests.connect()
        let producer = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("during-confirm")
        let other = AMQPTests.uniqueName("other")
        try await connection.declareQueue(name: queue, durable: false)
        try await connection.declareQueue(name: other, durable: false)
        for index in 0..<300 {
            try await producer.publish(routingKey: queue, body: Array("\(index)".utf8))
        }
        #expect(try await AMQPTests.waitForReady(producer, queue: queue, count: 300) == 300)

        try await connection.startConsuming(queue: queue)
        // The broker starts pushing 300 deliveries; the confirm wait reads past them.
        for _ in 0..<5 {
            try await connection.publishAndConfirm(routingKey: other, body: [0])
        }
        let early = try await connection.nextDeliveries(maxCount: 1_000, timeout: .zero)
        #expect(!early.isEmpty, "deliveries were buffered during the confirm waits")
        let rest = try await AMQPTests.collect(connection, count: 300 - early.count)
        let all = early + rest
        #expect(all.count == 300)
        #expect(all.map { String(decoding: $0.body, as: UTF8.self) } == (0..<300).map(String.init))
        try await connection.ack(deliveryTag: all.last!.deliveryTag, multiple: true)
        try await connection.deleteQueue(queue)
        try await connection.deleteQueue(other)
        await connection.close()
        await producer.close()
    }

    @Test("a per-message TTL delay queue dead-letters back to the work queue")
    func delayQueue() async throws {
        let connection = try await AMQPTests.connect()
        let work = AMQPTests.uniqueName("work")
        let delay = "\(work).delay"
        try await connection.declareQueue(name: work, durable: false)
        try await connection.declareQueue(
            name: delay, durable: false,
            arguments: ["x-dead-letter-exchange": "", "x-dead-letter-routing-key": .utf8(work)])
        try await connection.startConsuming(queue: work)

        var headers = AMQPTableTests.everyType
        headers["x-idem-attempts"] = .i32(1)
        let started = ContinuousClock.now
        try await connection.publishAndConfirm(
            routingKey: delay, body: [42],
            properties: AMQPProperties(headers: headers, expiration: "200", messageId: "d-1"))
        let delivery = try #require(try await AMQPTests.collect(connection, count: 1, timeout: .seconds(10)).first)
        let elapsed = ContinuousClock.now - started
        #expect(delivery.body == [42])
        #expect(delivery.messageId == "d-1")
        #expect(delivery.routingKey == work)
        #expect(elapsed >= .milliseconds(180))
        #expect(elapsed < .seconds(5))
        // RabbitMQ rewrites the table to add x-death; every field type survives that.
        for entry in headers {
            #expect(delivery.headers[entry.key] == entry.value, "\(entry.key)")
        }
        // RabbitMQ's own nested table: x-death = [{count, reason, queue, time, …}].
        let death = try #require(delivery.headers["x-death"]?.arrayValue?.first?.tableValue)
        #expect(death["reason"] == "expired")
        #expect(death["queue"]?.stringValue == delay)
        #expect(death["count"]?.integerValue == 1)
        if case .timestamp = death["time"] {
        } else {
            Issue.record("x-death time is \(String(describing: death["time"]))")
        }
        try await connection.ack(deliveryTag: delivery.deliveryTag)
        try await connection.deleteQueue(delay)
        try await connection.deleteQueue(work)
        await connection.close()
    }

    @Test("properties that do not fit in one frame are refused before anything is sent")
    func oversizedHeaders() async throws {
        let connection = try await AMQPTests.connect()
        let queue = AMQPTests.uniqueName("oversized")
        try await connection.declareQueue(name: queue, durable: false)
        // frame_max is 131072: 8 bytes of frame, 12 of content header, 2 of flags, 4 of
        // table length and 1 + 1 + 1 + 4 for the entry "k" = S…
        let fitting = 131_072 - 8 - 12 - 2 - 4 - 7
        try await connection.publishAndConfirm(
            routingKey: queue, body: [1],
            properties: AMQPProperties(headers: ["k": .utf8(String(repeating: "a", count: fitting))]))
        let error = await #expect(throws: AMQPError.self) {
            try await connection.publish(
                routingKey: queue, body: [2],
                properties: AMQPProperties(headers: ["k": .utf8(String(repeating: "a", count: fitting + 1))]))
        }
        #expect(error?.kind == .invalidArgument)
        #expect(await connection.isOpen)
        try await connection.publishAndConfirm(routingKey: queue, body: [3])
        #expect(try await connection.inspectQueue(queue).messageCount == 2)
        try await connection.deleteQueue(queue)
        await connection.close()
    }
}
