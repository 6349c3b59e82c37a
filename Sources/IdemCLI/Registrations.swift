import IdemConsumerKit
import IdemPostgresStore
import IdemRuntime
import Synchronization

/// What the program running the command line registered, installed once by
/// ``IdemCommandLine/main(handlers:brokers:)`` before the arguments are parsed: its Swift
/// handlers and its broker adapters.
enum Registrations {
    private static let registries = Mutex((handlers: HandlerRegistry(), brokers: BrokerRegistry.builtIn))

    static func install(handlers: HandlerRegistry, brokers: BrokerRegistry) {
        registries.withLock { $0 = (handlers, brokers) }
    }

    /// The Swift handlers.
    static var handlers: HandlerRegistry { registries.withLock { $0.handlers } }

    /// The broker adapters.
    static var brokers: BrokerRegistry { registries.withLock { $0.brokers } }
}
