import IdemAMQP
import IdemConsumerKit

/// A dead letter read from a RabbitMQ dead-letter queue: its delivery tag, to ack it off
/// the queue, and its properties, to republish it with them.
struct AMQPDeadLetterOrigin: DeadLetterOrigin {
    var deliveryTag: UInt64
    var properties: AMQPProperties

    func withoutBody() -> any DeadLetterOrigin {
        AMQPDeadLetterOrigin(deliveryTag: deliveryTag, properties: AMQPProperties())
    }
}
