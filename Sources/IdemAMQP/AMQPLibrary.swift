import CRabbitMQ

/// The librabbitmq the process runs on.
public enum AMQPLibrary {
    /// The version, e.g. `0.11.0`.
    public static var version: String { String(cString: amqp_version()) }
}
