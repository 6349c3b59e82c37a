import IdemAMQP
import IdemCore
import Testing

@testable import IdemAMQPConsumer

/// What a handler learns of a delivery's past from the broker.
@Suite("RabbitMQ message mapping")
struct AMQPMessageMappingTests {
    private func delivery(headers: AMQPTable, redelivered: Bool) -> AMQPDelivery {
        var properties = AMQPProperties(messageId: "m-1")
        properties.headers = headers
        return AMQPDelivery(
            body: Array("x".utf8), deliveryTag: 1, redelivered: redelivered, exchange: "", routingKey: "orders",
            properties: properties)
    }

    @Test func aQuorumQueuesDeliveryCountReachesTheMessageSource() {
        let counted = AMQPMessageMapping.message(
            delivery(headers: ["x-delivery-count": .i64(3)], redelivered: true), queue: "orders")
        #expect(counted.source.deliveryCount == 3)
        #expect(counted.source.redelivered)
        #expect(counted.source.description == "amqp:orders")
        let first = AMQPMessageMapping.message(delivery(headers: [:], redelivered: false), queue: "orders")
        #expect(first.source.deliveryCount == nil, "a first delivery, or a queue that does not count")
        let odd = AMQPMessageMapping.message(
            delivery(headers: ["x-delivery-count": .utf8("3")], redelivered: true), queue: "orders")
        #expect(odd.source.deliveryCount == nil, "only an integer is a count")
    }

    @Test func theDeadLetterOfALastDeliverySaysWhy() {
        let reason = DeadLetterReason.deliveryLimit(deliveryCount: 20, limit: 20, attempts: 2, lastError: "busy")
        #expect(reason.code == "delivery-limit")
        #expect(reason.attempts == 2)
        #expect(
            reason.description
                == "delivered 21 times (x-delivery-count 20), the last its queue's delivery limit of 20 allows: handed back, the broker would drop it; last error: busy"
        )
    }
}
