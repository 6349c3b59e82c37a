import ArgumentParser
import IdemConfig
import IdemKafka

/// The `--config FILE` option shared by the commands that read `worker.yaml`.
struct ConfigOptions: ParsableArguments {
    @Option(name: [.short, .long], help: ArgumentHelp("The worker configuration file.", valueName: "file"))
    var config: String = "worker.yaml"

    /// Loads the file, turning every problem into a configuration error (exit 2).
    func load() throws -> WorkerConfig {
        try ConfigOptions.load(config)
    }

    /// librdkafka's own verdict on each pass-through property.
    static let kafkaPropertyCheck: ConfigLoader.KafkaPropertyCheck = { properties in
        var refused: [String: String] = [:]
        for error in KafkaConsumer.validate(configuration: properties) {
            let property = error.property ?? "?"
            let prefix = "invalid Kafka configuration property '\(property)': "
            refused[property] =
                error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
        }
        return refused
    }

    /// The consumer named `name` in `config`, or its first consumer when `name` is nil. An
    /// unknown name is a usage error (exit 2) naming the consumers there are; `context`
    /// (such as `--to consumer:x`) leads the message.
    static func consumer(_ name: String?, in config: WorkerConfig, context: String? = nil) throws -> ConsumerConfig {
        guard let name else { return config.consumers[0] }
        guard let match = config.consumers.first(where: { $0.name == name }) else {
            throw CLIFailure.config(
                (context.map { "\($0): " } ?? "")
                    + "no consumer named '\(name)' in \(config.file) (consumers: \(config.consumers.map(\.name).joined(separator: ", ")))"
            )
        }
        return match
    }

    static func load(_ path: String) throws -> WorkerConfig {
        do {
            return try ConfigLoader.load(file: path, kafkaPropertyCheck: kafkaPropertyCheck)
        } catch {
            throw CLIFailure.config(error.description)
        }
    }
}
