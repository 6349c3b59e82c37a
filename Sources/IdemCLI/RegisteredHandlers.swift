import IdemRuntime
import Synchronization

/// The Swift handlers of the program running the command line, installed once by
/// ``IdemCommandLine/main(handlers:)`` before the arguments are parsed.
enum RegisteredHandlers {
    private static let registry = Mutex(HandlerRegistry())

    static func install(_ handlers: HandlerRegistry) {
        registry.withLock { $0 = handlers }
    }

    static var current: HandlerRegistry { registry.withLock { $0 } }
}
