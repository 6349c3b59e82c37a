import IdemAMQP
import IdemConfig

extension AMQPSourceConfig {
    /// The TLS options of an `amqps://` URL, or `nil` for `amqp://`.
    var tlsOptions: AMQPTLSOptions? {
        guard url.hasPrefix("amqps://") else { return nil }
        return AMQPTLSOptions(
            caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile, verifyPeer: tls.verify,
            verifyHostname: tls.verify)
    }

    /// The queue the consumer's dead letters end up in: the routing key through the default
    /// exchange, or `<queue>.dlq` bound to a named dead-letter exchange (as the consumer
    /// declares them).
    public var deadLetterQueue: String {
        deadLetterExchange.isEmpty ? deadLetterRoutingKey : "\(queue).dlq"
    }
}
