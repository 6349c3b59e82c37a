import IdemConsumerKit
import IdemCore
import IdemPostgresStore

/// Swift handlers registered by name, for a program that embeds idem: a consumer whose
/// configuration says `handler: {swift: NAME}` runs the handler registered as `NAME`.
///
/// In transactional mode the handler receives the open dedup transaction in
/// ``HandlerContext/transaction`` and does its writes there, so that they commit with the
/// message's dedup row; in lease mode it receives the message ID and fence to pass
/// downstream.
public struct HandlerRegistry: Sendable {
    private var handlers: [String: any MessageHandler] = [:]

    /// An empty registry.
    public init() {}

    /// Registers `handler` as `name`, replacing any handler registered under that name.
    public mutating func register(_ name: String, _ handler: any MessageHandler) {
        handlers[name] = handler
    }

    /// The handler registered as `name`.
    public func handler(named name: String) -> (any MessageHandler)? {
        handlers[name]
    }

    /// The registered names, sorted.
    public var names: [String] { handlers.keys.sorted() }
}
