import CRdKafka

extension KafkaConsumer {
    /// Checks client properties the way librdkafka's `rd_kafka_conf_set` does, without
    /// creating a client or connecting.
    ///
    /// Catches unknown property names and values librdkafka refuses (a bad enum value, a
    /// number out of range); not conflicts between properties, which only client creation
    /// reports.
    ///
    /// - Returns: one error of kind ``KafkaError/Kind/configuration`` per refused property,
    ///   with ``KafkaError/property`` set and librdkafka's reason in the message, in property
    ///   name order; `[]` when every property is accepted.
    public static func validate(configuration: [String: String]) -> [KafkaError] {
        guard let conf = rd_kafka_conf_new() else {
            return [KafkaError(kind: .configuration, message: "rd_kafka_conf_new failed")]
        }
        defer { rd_kafka_conf_destroy(conf) }
        var errors: [KafkaError] = []
        var errorText = [CChar](repeating: 0, count: 512)
        for (name, value) in configuration.sorted(by: { $0.key < $1.key }) {
            errorText[0] = 0
            guard rd_kafka_conf_set(conf, name, value, &errorText, errorText.count) != RD_KAFKA_CONF_OK else {
                continue
            }
            errors.append(
                KafkaError(
                    kind: .configuration,
                    message: "invalid Kafka configuration property '\(name)': \(string(fromBuffer: errorText))",
                    property: name))
        }
        return errors
    }
}
