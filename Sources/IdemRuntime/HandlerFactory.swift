import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemExec
import IdemPlugins
import IdemPostgresStore
import Logging

/// Builds the handler a consumer's configuration names, and checks that it can be built.
enum HandlerFactory {
    /// A handler ready to run, and what releases it when the worker stops.
    struct Prepared: Sendable {
        var handler: any MessageHandler
        var close: @Sendable () async -> Void = {}
    }

    /// Builds `consumer`'s handler: starts an exec handler's processes, loads a plugin.
    static func make(
        _ consumer: ConsumerConfig, registry: HandlerRegistry, logger: Logger
    ) async throws(HandlerSetupError) -> Prepared {
        var logger = logger
        logger[metadataKey: "consumer"] = .string(consumer.name)
        let config = consumer.handler
        switch config.kind {
        case .sql(let statement, let parameters):
            return Prepared(handler: SQLHandler(sql: statement, parameters: parameters, timeout: config.timeout))
        case .swift(let name):
            guard let handler = registry.handler(named: name) else {
                throw HandlerSetupError(consumer: consumer.name, message: unregistered(name, registry: registry))
            }
            return Prepared(handler: TimedHandler(handler: handler, timeout: config.timeout))
        case .exec(let settings):
            let handler = ExecHandler(
                command: settings.command, processes: settings.processes, inFlight: settings.inFlight,
                environment: settings.environment, timeout: config.timeout, consumer: consumer.name, logger: logger)
            do {
                try await handler.start()
            } catch {
                await handler.shutdown()
                throw HandlerSetupError(consumer: consumer.name, message: "exec: \(error)")
            }
            return Prepared(handler: handler, close: { await handler.shutdown() })
        case .plugin(let path, let json):
            do {
                let handler = try PluginHandler.load(
                    path: path, config: json, concurrency: config.effectiveConcurrency, timeout: config.timeout,
                    consumer: consumer.name, logger: logger)
                // A call stuck in the plugin must not hold the worker's exit forever.
                let limit = config.timeout
                return Prepared(handler: handler, close: { await handler.close(waitingAtMost: limit) })
            } catch {
                throw HandlerSetupError(consumer: consumer.name, message: "plugin: \(error)")
            }
        }
    }

    /// What keeps `consumer`'s handler from being built, for `idem check-config`; nil when
    /// nothing does. Loads (and closes) a plugin; does not start exec processes.
    static func problem(_ consumer: ConsumerConfig, registry: HandlerRegistry, logger: Logger) async -> String? {
        switch consumer.handler.kind {
        case .sql:
            return nil
        case .swift(let name):
            return registry.handler(named: name) == nil ? unregistered(name, registry: registry) : nil
        case .exec(let settings):
            return ExecHandler.validate(command: settings.command).map { "exec: \($0)" }
        case .plugin:
            do {
                let prepared = try await make(consumer, registry: registry, logger: logger)
                await prepared.close()
                return nil
            } catch {
                return error.message
            }
        }
    }

    private static func unregistered(_ name: String, registry: HandlerRegistry) -> String {
        let known = registry.names.isEmpty ? "none is" : "registered: \(registry.names.joined(separator: ", "));"
        return
            "swift: no Swift handler named '\(name)' is registered (\(known) Swift handlers run in a program that embeds idem and registers them with IdemCommandLine.main(handlers:))"
    }
}
