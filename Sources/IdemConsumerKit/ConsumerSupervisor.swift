import IdemConcurrency
import IdemCore
import Logging
import ServiceLifecycle

/// Runs one consumer: waits for the dedup store, then runs its broker adapter's sessions
/// one after another until a graceful shutdown.
///
/// What every broker shares is here, once: a session that fails is followed by a new one
/// after a backoff (``BrokerAdapter/reconnectBackoff``, reset once a session connects); a
/// session that ends with ``StoreUnavailable`` pauses the consumer until the store
/// answers, then a new one starts at once; `/readyz` shows each state. A session the
/// adapter cannot make (``BrokerAdapter/makeSession(_:)`` throws), or one that finds the
/// broker's side misconfigured (``SourceMisconfigured``), ends the supervisor with that error.
public struct ConsumerSupervisor: Service, CustomStringConvertible {
    let adapter: any BrokerAdapter
    let context: ConsumerContext
    let makeSession: @Sendable () throws -> any ConsumerSession

    /// The supervisor of `context.consumer`, whose sessions `adapter` makes.
    public init(adapter: any BrokerAdapter, context: ConsumerContext) {
        self.adapter = adapter
        self.context = context
        self.makeSession = { try adapter.makeSession(context) }
    }

    /// What the logs call it.
    public var description: String { "consumer \(context.consumer.name)" }

    public func run() async throws {
        let name = context.consumer.name
        defer { context.health.set(name, .stopped) }
        do {
            try await cancelWhenGracefulShutdown { try await context.readiness.waitUntilReady() }
        } catch {
            return
        }
        var backoff = adapter.reconnectBackoff
        var connectedBefore = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let status = ConsumerStatus(
                consumer: name, kind: adapter.kind.rawValue, health: context.health, metrics: context.metrics,
                reconnect: connectedBefore)
            // A session that cannot be made (settings that cannot work) is not retried:
            // the error ends the worker, with the consumer's name in it.
            let session: any ConsumerSession
            do {
                session = try makeSession()
            } catch {
                context.logger.error("\(adapter.brokerName) consumer cannot start: \(error)")
                throw error
            }
            do {
                try await session.run(status)
                return
            } catch let end as StoreUnavailable {
                connectedBefore = connectedBefore || status.didConnect
                context.logger.warning("PostgreSQL unavailable, pausing consumption: \(end.detail)")
                context.health.set(name, .paused("PostgreSQL unavailable"))
                do {
                    try await cancelWhenGracefulShutdown { try await context.waitForStore() }
                } catch {
                    return
                }
            } catch is CancellationError {
                return
            } catch let misconfigured as SourceMisconfigured {
                // The broker's side does not fit the settings: reconnecting cannot help.
                context.logger.error("\(adapter.brokerName) consumer cannot start safely: \(misconfigured)")
                throw misconfigured
            } catch {
                if status.didConnect {
                    connectedBefore = true
                    backoff.reset()
                }
                let delay = backoff.next()
                context.logger.warning("\(adapter.brokerName) session ended, reconnecting in \(delay): \(error)")
                context.health.set(name, .reconnecting("\(error)"))
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
                } catch {
                    return
                }
            }
        }
    }
}
