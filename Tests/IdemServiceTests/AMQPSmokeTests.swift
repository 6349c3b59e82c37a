import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// Smoke tests of ``AMQPConnection`` against the development RabbitMQ.
@Suite("RabbitMQ client")
struct AMQPSmokeTests {
    let logger = makeTestLogger("idem.tests.amqp")

    @Test("publish then basic.get returns the same body, message-id and headers")
    func publishAndGet() async throws {
        let connection = try await AMQPConnection.connect(
            url: try ServiceEnvironment.amqpURL(), connectionName: "idem-smoke-test",
            logger: logger)
        let queue = "idem-smoke-\(UUID().uuidString.lowercased())"
        let declared = try await connection.declareQueue(name: queue, durable: false)
        #expect(declared.name == queue)
        #expect(declared.messageCount == 0)

        let body = Array("{\"order\": 42, \"note\": \"héllo\"}".utf8)
        try await connection.publish(
            routingKey: queue, body: body,
            properties: AMQPProperties(
                contentType: "application/json",
                headers: ["x-idem-test": "smoke", "tenant": "acme"],
                deliveryMode: .persistent,
                messageId: "msg-42",
                timestamp: 1_700_000_000))

        let delivery = try #require(try await connection.get(queue: queue))
        #expect(delivery.body == body)
        #expect(delivery.messageId == "msg-42")
        #expect(delivery.headers == ["x-idem-test": "smoke", "tenant": "acme"])
        #expect(delivery.properties.contentType == "application/json")
        #expect(delivery.properties.deliveryMode == .persistent)
        #expect(delivery.properties.timestamp == 1_700_000_000)
        #expect(delivery.redelivered == false)
        #expect(delivery.routingKey == queue)
        #expect(delivery.exchange == "")
        #expect(delivery.messageCount == 0)
        try await connection.ack(deliveryTag: delivery.deliveryTag)

        #expect(try await connection.get(queue: queue) == nil)
        try await connection.publish(routingKey: queue, body: [1, 2, 3])
        // The broker may not have routed the message yet when purge arrives; wait for it.
        var ready = try await connection.declareQueue(name: queue, durable: false)
        for _ in 0..<50 where ready.messageCount == 0 {
            try await Task.sleep(for: .milliseconds(20))
            ready = try await connection.declareQueue(name: queue, durable: false)
        }
        #expect(try await connection.purgeQueue(queue) == 1)
        #expect(try await connection.deleteQueue(queue) == 0)
        await connection.close()
        #expect(await connection.isOpen == false)
    }

    @Test("a channel error is reported and the next call reopens the channel")
    func channelErrorRecovery() async throws {
        let connection = try await AMQPConnection.connect(
            url: try ServiceEnvironment.amqpURL(), logger: logger)
        let missing = "idem-smoke-missing-\(UUID().uuidString.lowercased())"
        let error = await #expect(throws: AMQPError.self) {
            try await connection.get(queue: missing)
        }
        #expect(error?.kind == .channelClosed)
        #expect(error?.replyCode == 404)
        #expect(error?.message.contains("NOT_FOUND") == true)
        #expect(error?.message.contains(missing) == true)

        // Same connection, fresh channel.
        let queue = "idem-smoke-\(UUID().uuidString.lowercased())"
        try await connection.declareQueue(name: queue, durable: false, autoDelete: false)
        let mismatch = await #expect(throws: AMQPError.self) {
            try await connection.declareQueue(name: queue, durable: true)
        }
        #expect(mismatch?.replyCode == 406)
        #expect(try await connection.deleteQueue(queue) == 0)
        #expect(await connection.isOpen)
        await connection.close()
    }

    @Test("a refused connection names host and port")
    func connectionRefused() async throws {
        let error = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(
                url: "amqp://guest:guest@127.0.0.1:1/", connectTimeout: .seconds(3),
                logger: logger)
        }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.message.hasPrefix("could not connect to RabbitMQ at 127.0.0.1:1: ") == true)
    }

    @Test("a wrong password is refused by the server and never shown")
    func wrongPassword() async throws {
        var url = try AMQPURL(parsing: try ServiceEnvironment.amqpURL())
        url.password = "definitely-wrong-pw"
        let error = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(url: url, logger: logger)
        }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.message.contains(url.endpoint) == true)
        #expect(error?.message.contains("definitely-wrong-pw") == false)
    }

    @Test("AMQP URLs parse with defaults, decoding and a hidden password")
    func urlParsing() throws {
        let full = try AMQPURL(parsing: "amqp://idem:p%40ss@rabbit.local:5673/orders%2Fprod")
        #expect(full.host == "rabbit.local")
        #expect(full.port == 5673)
        #expect(full.user == "idem")
        #expect(full.password == "p@ss")
        #expect(full.vhost == "orders/prod")
        #expect(full.description == "amqp://idem:***@rabbit.local:5673/orders%2Fprod")
        #expect(!String(reflecting: full).contains("p@ss"))

        let minimal = try AMQPURL(parsing: "amqp://127.0.0.1")
        #expect(minimal.port == 5672)
        #expect(minimal.vhost == "/")
        #expect(minimal.user == "guest")
        #expect(try AMQPURL(parsing: "amqp://h/").vhost == "/")
        #expect(try AMQPURL(parsing: "amqp://h/%2F").vhost == "/")
        #expect(try AMQPURL(parsing: "amqp://[::1]:5999/v").host == "::1")
        #expect(try AMQPURL(parsing: "amqp://h?heartbeat=5").heartbeat == .seconds(5))

        for bad in [
            "http://u:topsecret@h/", "amqp://u:topsecret@h:99999/", "amqp://u:topsecret@h/a/b",
            "amqp://u:topsecret@h/%zz", "amqp://u:topsecret@h/?color=blue", "u:topsecret@h",
            "amqpx://u:topsecret@h/",
        ] {
            let error = #expect(throws: AMQPError.self) { try AMQPURL(parsing: bad) }
            #expect(error?.kind == .invalidURL)
            #expect(error?.message.contains("topsecret") == false, "\(bad)")
        }
    }
}
