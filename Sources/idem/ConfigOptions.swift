import ArgumentParser
import IdemConfig

/// The `--config FILE` option shared by the commands that read `worker.yaml`.
struct ConfigOptions: ParsableArguments {
    @Option(name: [.short, .long], help: ArgumentHelp("The worker configuration file.", valueName: "file"))
    var config: String = "worker.yaml"

    /// Loads the file, turning every problem into a configuration error (exit 2).
    func load() throws -> WorkerConfig {
        try ConfigOptions.load(config)
    }

    static func load(_ path: String) throws -> WorkerConfig {
        do {
            return try ConfigLoader.load(file: path)
        } catch {
            throw CLIFailure.config(error.description)
        }
    }
}
