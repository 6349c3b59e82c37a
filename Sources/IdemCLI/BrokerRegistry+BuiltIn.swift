import IdemAMQPConsumer
import IdemConsumerKit
import IdemKafkaConsumer

extension BrokerRegistry {
    /// The brokers idem ships: RabbitMQ (`amqp`) and Kafka (`kafka`).
    public static var builtIn: BrokerRegistry {
        BrokerRegistry([AMQPBrokerAdapter(), KafkaBrokerAdapter()])
    }
}
