import IdemConfig
import IdemCore
import Testing

@testable import IdemAMQPConsumer

/// The part of the startup checks that needs no broker: what idem declares, and RabbitMQ 4's
/// default delivery limit against the attempts of `retry_via: requeue`.
@Suite("RabbitMQ topology checks")
struct AMQPTopologyCheckTests {
    func consumer(_ source: AMQPSourceConfig, attempts: Int) -> ConsumerConfig {
        ConsumerConfig(
            name: "orders", source: .amqp(source), identity: IdentityChain([.messageId]),
            handler: HandlerConfig(kind: .swift(name: "h")),
            retry: RetryPolicy(
                maxAttempts: attempts, initialBackoff: .seconds(1), multiplier: 2, maxBackoff: .seconds(10),
                jitter: 0))
    }

    @Test func rabbitMQ4sDefaultLimitOf20EndsRequeueRetriesOf20OrMoreAttempts() {
        var source = AMQPSourceConfig(url: "amqp://127.0.0.1", queue: "orders", retryVia: .requeue)
        source.queueType = .quorum
        let many = consumer(source, attempts: 20)
        let problem = AMQPTopologyCheck.defaultDeliveryLimitProblem(
            source: source, consumer: many, brokerMajorVersion: 4)
        #expect(problem?.contains("RabbitMQ 4's default delivery-limit: 20") == true, "\(problem ?? "")")
        #expect(problem?.contains("source.amqp.delivery_limit: 25 with declare: true") == true)
        #expect(
            AMQPTopologyCheck.defaultDeliveryLimitProblem(source: source, consumer: many, brokerMajorVersion: 3)
                == nil, "unlimited before 4.0")
        #expect(
            AMQPTopologyCheck.defaultDeliveryLimitProblem(
                source: source, consumer: consumer(source, attempts: 19), brokerMajorVersion: 4) == nil)
        var configured = source
        configured.deliveryLimit = 100
        #expect(
            AMQPTopologyCheck.defaultDeliveryLimitProblem(
                source: configured, consumer: consumer(configured, attempts: 20), brokerMajorVersion: 4) == nil)
        var delayed = source
        delayed.retryVia = .delayQueue
        #expect(
            AMQPTopologyCheck.defaultDeliveryLimitProblem(
                source: delayed, consumer: consumer(delayed, attempts: 20), brokerMajorVersion: 4) == nil,
            "a delay queue's retry is a new message")
    }

    @Test func aQuorumQueueIsDeclaredWithItsTypeAndLimitAndAClassicOneWithNothing() {
        var source = AMQPSourceConfig(url: "amqp://127.0.0.1", queue: "orders")
        #expect(AMQPTopologyCheck.queueArguments(source).entries.isEmpty)
        source.queueType = .quorum
        source.deliveryLimit = 30
        let arguments = AMQPTopologyCheck.queueArguments(source)
        #expect(arguments["x-queue-type"] == .utf8("quorum"))
        #expect(arguments["x-delivery-limit"] == .i64(30))
    }
}
