import CIdemPlugin
import IdemCore
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `plugin` handler: a shared library loaded with `dlopen(3)` that implements the C ABI
/// of `idem_plugin.h` (docs/plugins.md).
///
/// ```swift
/// let handler = try PluginHandler.load(
///     path: "/opt/idem/libmyplugin.so", config: #"{"url": "http://…"}"#,
///     concurrency: 4, timeout: .seconds(30), consumer: "orders", logger: logger)
/// // … handler.handle(message, context: context) for each message …
/// await handler.close()
/// ```
///
/// Each `idem_plugin_handle` call runs on one of `concurrency` dedicated threads, never on
/// Swift's cooperative thread pool: a blocking or slow plugin stalls only its own threads.
/// When all of them are busy, calls wait for one in arrival order.
///
/// A call that has not returned `timeout` after ``handle(_:context:)`` was called (waiting
/// for a free thread included) yields `.retry("plugin handler timed out after …")`. The C
/// call itself cannot be interrupted: its thread stays busy until it returns, and its result
/// is then discarded (and logged). A plugin stuck for good therefore takes one thread out of
/// the pool for good.
///
/// The handler owns the library: ``close(waitingAtMost:)`` waits for the calls in flight,
/// then calls `idem_plugin_close` and `dlclose` (which leaves the library mapped: see
/// ``openFlags``). A handler released without ``close(waitingAtMost:)`` does the same in
/// its deinitializer (no call can be in flight then: a running call keeps the handler
/// alive).
public final class PluginHandler: MessageHandler, @unchecked Sendable {
    // @unchecked Sendable: the stored properties are immutable after `load`, except
    // `closeStarted` (atomic) and the pool (Sendable). The raw pointers are the dlopen handle,
    // which the dl* functions accept from any thread, and the plugin's opaque state, which
    // the ABI lets idem pass to idem_plugin_handle from up to `concurrency` threads at once
    // (the plugin locks what it shares) and to idem_plugin_close after the last call.

    /// The plugin ABI version this build of idem supports (`IDEM_PLUGIN_ABI_VERSION`).
    public static let supportedABIVersion = UInt32(IDEM_PLUGIN_ABI_VERSION)
    /// The oldest ABI version idem still loads: version 2 only appended fields to
    /// `idem_message`, which a version 1 plugin does not read.
    public static let oldestABIVersion: UInt32 = 1

    /// The `dlopen(3)` flags: `RTLD_NOW` (an unresolved symbol fails at startup, not at the
    /// first message), `RTLD_LOCAL` (the plugin's symbols stay out of the global namespace)
    /// and `RTLD_NODELETE`: `dlclose` then drops idem's reference but never unmaps the
    /// library. Unmapping is unsafe for many plugins: the Swift runtime keeps pointers into a
    /// Swift library's metadata (a type lookup after unloading the Swift example crashes),
    /// Go's runtime cannot be unloaded, and thread-local destructors of C++ or Rust code may
    /// still point into it.
    public static let openFlags = RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE

    /// The largest `concurrency`: each allowed concurrent call is a thread.
    public static let maximumConcurrency = 1024

    /// The size of the buffer for the plugin's reasons, the terminating NUL included.
    public static let errorCapacity = 4096

    /// The library's path, as configured.
    public let path: String
    /// How many calls may run at once: the number of dedicated threads.
    public let concurrency: Int
    /// How long a call may take before it counts as a transient failure.
    public let timeout: Duration

    private let library: UnsafeMutableRawPointer
    private let state: UnsafeMutableRawPointer?
    private let handleFunction: idem_plugin_handle_fn
    private let closeFunction: idem_plugin_close_fn
    private let pool: PluginThreadPool
    /// One reason buffer of ``errorCapacity`` bytes per worker, allocated once: a worker runs
    /// one call at a time, and a per-call buffer this large would come from the heap.
    private let reasonBuffers: UnsafeMutableBufferPointer<CChar>
    private let logger: Logger
    private let closeStarted = Atomic<Bool>(false)

    private init(
        path: String, concurrency: Int, timeout: Duration, library: UnsafeMutableRawPointer,
        state: UnsafeMutableRawPointer?, handleFunction: @escaping idem_plugin_handle_fn,
        closeFunction: @escaping idem_plugin_close_fn, logger: Logger
    ) {
        self.path = path
        self.concurrency = concurrency
        self.timeout = timeout
        self.library = library
        self.state = state
        self.handleFunction = handleFunction
        self.closeFunction = closeFunction
        self.logger = logger
        reasonBuffers = .allocate(capacity: concurrency * Self.errorCapacity)
        reasonBuffers.initialize(repeating: 0)
        pool = PluginThreadPool(threads: concurrency, timeout: timeout, logger: logger)
    }

    deinit {
        if !closeStarted.load(ordering: .acquiring) {
            closeFunction(state)
            dlclose(library)
        }
        pool.shutdown()
        reasonBuffers.deallocate()
    }

    /// Loads the plugin at `path` and initialises it.
    ///
    /// Opens the library with `dlopen(3)` and ``openFlags`` (a path without a slash is taken
    /// relative to the working directory, never searched for), checks
    /// `idem_plugin_abi_version()` against ``supportedABIVersion``, looks up the other three
    /// functions of the ABI and calls `idem_plugin_init` with `config`. Runs on the caller's
    /// thread (it is a startup step) and starts `concurrency` threads plus a watchdog
    /// thread.
    ///
    /// - Parameters:
    ///   - path: The shared library.
    ///   - config: The handler's `config` as a JSON text; an empty text passes `{}`.
    ///   - concurrency: How many calls may run at once (1 to ``maximumConcurrency``): one
    ///     thread each.
    ///   - timeout: How long a call may take (positive), waiting for a free thread included.
    ///   - consumer: The consumer's name, for the logs.
    ///   - logger: Where the handler logs timeouts and late results.
    /// - Throws: ``PluginError``: the file is missing, `dlopen` fails, a function is
    ///   missing, the ABI version differs, `idem_plugin_init` fails, or a setting is out of
    ///   range.
    public static func load(
        path: String, config: String, concurrency: Int, timeout: Duration, consumer: String, logger: Logger
    ) throws -> PluginHandler {
        guard (1...maximumConcurrency).contains(concurrency) else {
            throw PluginError.invalidSetting(
                path: path, reason: "concurrency must be between 1 and \(maximumConcurrency) (got \(concurrency))")
        }
        guard timeout > .zero else {
            throw PluginError.invalidSetting(path: path, reason: "timeout must be positive (got \(timeout))")
        }
        guard access(path, F_OK) == 0 else { throw PluginError.fileNotFound(path: path) }
        let openPath = path.contains("/") ? path : "./" + path
        guard let library = dlopen(openPath, openFlags) else {
            throw PluginError.loadFailed(path: path, reason: lastDLError() ?? "unknown error")
        }
        do {
            // The version first: another version may name or shape the other functions differently.
            let abiVersion = try symbol(
                "idem_plugin_abi_version", in: library, path: path, as: idem_plugin_abi_version_fn.self)
            let version = abiVersion()
            guard (oldestABIVersion...supportedABIVersion).contains(version) else {
                throw PluginError.abiMismatch(path: path, pluginVersion: version, supportedVersion: supportedABIVersion)
            }
            let initFunction = try symbol("idem_plugin_init", in: library, path: path, as: idem_plugin_init_fn.self)
            let handleFunction = try symbol(
                "idem_plugin_handle", in: library, path: path, as: idem_plugin_handle_fn.self)
            let closeFunction = try symbol("idem_plugin_close", in: library, path: path, as: idem_plugin_close_fn.self)
            var state: UnsafeMutableRawPointer?
            let (code, reason) = withUnsafeTemporaryAllocation(of: CChar.self, capacity: errorCapacity) { error in
                error[0] = 0
                let code = (config.isEmpty ? "{}" : config).withCString { json in
                    initFunction(json, &state, error.baseAddress, errorCapacity)
                }
                return (code, code == 0 ? "" : reasonText(error))
            }
            guard code == 0 else { throw PluginError.initFailed(path: path, code: code, reason: reason) }
            var logger = logger
            logger[metadataKey: "consumer"] = "\(consumer)"
            logger[metadataKey: "plugin"] = "\(path)"
            logger.info(
                "loaded plugin",
                metadata: ["concurrency": "\(concurrency)", "timeout": "\(timeout.pluginText)"])
            return PluginHandler(
                path: path, concurrency: concurrency, timeout: timeout, library: library, state: state,
                handleFunction: handleFunction, closeFunction: closeFunction, logger: logger)
        } catch {
            dlclose(library)
            throw error
        }
    }

    /// Hands `message` to `idem_plugin_handle` on a plugin thread and maps its result:
    /// `IDEM_RESULT_OK` → `.success`, `IDEM_RESULT_RETRY` → `.retry(reason)`,
    /// `IDEM_RESULT_REJECT` → `.reject(reason)`, any other code → `.retry`. A call that
    /// does not return within ``timeout`` yields `.retry("plugin handler timed out after …")`;
    /// after ``close(waitingAtMost:)`` every call yields `.retry`. Never throws; does not
    /// react to task cancellation (the timeout bounds the wait).
    public func handle(_ message: Message, context: HandlerContext) async -> HandlerResult {
        let now = ContinuousClock.now
        return await withUnsafeContinuation { continuation in
            let call = PluginCall(
                message: message, context: context, enqueued: now, timeout: timeout, continuation: continuation)
            switch pool.admit(call) {
            case .wake(let worker):
                pool.executors[worker].submit { self.work(on: worker, startingWith: call) }
            case .queued:
                break
            case .closed:
                call.resolve(.retry("the plugin handler for \(path) is closed"))
            }
        }
    }

    /// Stops the plugin: admits no new call, waits for the calls in flight (those that timed
    /// out included) to return, then calls `idem_plugin_close` and `dlclose` on a plugin
    /// thread and stops the threads.
    ///
    /// When calls are still running after `limit`, it gives up waiting: it neither calls
    /// `idem_plugin_close` (the ABI promises it comes after the last `idem_plugin_handle`)
    /// nor `dlclose`, logs an error, leaves the plugin open for the rest of the process, and
    /// returns `false`. Calls still queued then yield `.retry`.
    ///
    /// - Parameter limit: How long to wait for the calls in flight; `nil` waits as long as
    ///   they take.
    /// - Returns: Whether the plugin was closed. Only the first call closes; later calls
    ///   return `false` at once.
    @discardableResult
    public func close(waitingAtMost limit: Duration? = nil) async -> Bool {
        guard !closeStarted.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        let drained = await pool.drain(within: limit)
        if drained {
            await pool.executors[0].run { self.closeLibrary() }
            logger.info("closed plugin")
        } else {
            logger.error(
                "plugin calls still running after close waited for them; the plugin is left open and loaded",
                metadata: ["waited": "\(limit?.pluginText ?? "-")"])
        }
        pool.shutdown()
        return drained
    }

    private func closeLibrary() {
        closeFunction(state)
        dlclose(library)
    }

    /// A worker's run: `first`, then the queued calls, until the queue is empty.
    private func work(on worker: Int, startingWith first: PluginCall) {
        var next: PluginCall? = first
        while let call = next {
            // A call whose caller has its result already (it timed out) is not started.
            if !call.isResolved {
                let result = invoke(call, reasonBuffer: reasonBuffer(of: worker))
                if !call.resolve(result) {
                    logger.warning(
                        "a timed-out plugin call returned; its result was discarded",
                        metadata: [
                            "id": "\(call.id)", "attempt": "\(call.attempt)",
                            "after": "\((ContinuousClock.now - call.enqueued).pluginText)", "result": "\(result)",
                        ])
                }
            }
            next = pool.next(after: worker)
        }
    }

    /// The reason buffer of `worker`.
    private func reasonBuffer(of worker: Int) -> UnsafeMutableBufferPointer<CChar> {
        UnsafeMutableBufferPointer(
            rebasing: reasonBuffers[(worker * Self.errorCapacity)..<((worker + 1) * Self.errorCapacity)])
    }

    /// Calls `idem_plugin_handle` for `call`, on the current (plugin) thread, with `error` as
    /// the reason buffer. Every pointer in the `idem_message` stays valid until the function
    /// returns.
    private func invoke(_ call: PluginCall, reasonBuffer error: UnsafeMutableBufferPointer<CChar>) -> HandlerResult {
        let message = call.message
        return call.consumer.withCString { consumer in
            call.id.withCString { id in
                message.source.description.withCString { source in
                    Self.withBytes(message.body) { body, bodyLength in
                        Self.withKey(message.key) { key, keyLength in
                            Self.withHeaders(message.headers) { headers, headerCount in
                                Self.withTrace(message.trace) { traceparent, tracestate in
                                    error[0] = 0
                                    var cMessage = idem_message(
                                        consumer: consumer, id: id, fence: call.fence,
                                        attempt: Int32(clamping: call.attempt), source: source, body: body,
                                        body_length: bodyLength, key: key, key_length: keyLength,
                                        headers: headers, header_count: headerCount, traceparent: traceparent,
                                        tracestate: tracestate)
                                    let code = handleFunction(state, &cMessage, error.baseAddress, error.count)
                                    return Self.result(code: code, error: error)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Calls `body` with the trace context's headers as C strings, or NULL.
    private static func withTrace<T>(
        _ trace: MessageTrace?, _ body: (UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> T
    ) -> T {
        guard let trace else { return body(nil, nil) }
        return trace.traceparent.withCString { parent in
            guard let state = trace.tracestate else { return body(parent, nil) }
            return state.withCString { body(parent, $0) }
        }
    }

    private static func result(code: Int32, error: UnsafeMutableBufferPointer<CChar>) -> HandlerResult {
        switch Int(code) {
        case IDEM_RESULT_OK:
            return .success
        case IDEM_RESULT_RETRY:
            let reason = reasonText(error)
            return .retry(reason.isEmpty ? "the plugin returned RETRY without a reason" : reason)
        case IDEM_RESULT_REJECT:
            let reason = reasonText(error)
            return .reject(reason.isEmpty ? "the plugin returned REJECT without a reason" : reason)
        default:
            let reason = reasonText(error)
            return .retry("the plugin returned the unknown result code \(code)" + (reason.isEmpty ? "" : ": \(reason)"))
        }
    }

    /// The NUL-terminated text in `buffer` (bounded by its capacity), invalid UTF-8 repaired.
    private static func reasonText(_ buffer: UnsafeMutableBufferPointer<CChar>) -> String {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return "" }
        let length = strnlen(base, buffer.count)
        return base.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
        }
    }

    /// Calls `body` with the bytes' address (never NULL, even when empty) and count.
    private static func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        bytes.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { return body(base, buffer.count) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1) { empty in
                body(UnsafePointer(empty.baseAddress!), 0)
            }
        }
    }

    /// Calls `body` with the key's address and count: NULL and 0 when there is no key.
    private static func withKey<R>(_ key: [UInt8]?, _ body: (UnsafePointer<UInt8>?, Int) -> R) -> R {
        guard let key else { return body(nil, 0) }
        return withBytes(key) { body($0, $1) }
    }

    /// Calls `body` with the headers as an `idem_header` array, sorted by name: NULL and 0
    /// when there are none. A text value is its UTF-8 bytes, a bytes value its bytes, a
    /// number, boolean, decimal or timestamp its ``HeaderValue/identityText``; a nested
    /// table or array, or void, has no value (NULL, 0).
    private static func withHeaders<R>(
        _ headers: [String: HeaderValue], _ body: (UnsafePointer<idem_header>?, Int) -> R
    ) -> R {
        guard !headers.isEmpty else { return body(nil, 0) }
        // Names (NUL-terminated) and values, one after the other in one buffer.
        var storage: [UInt8] = []
        var offsets: [(name: Int, value: Int, valueLength: Int?)] = []
        offsets.reserveCapacity(headers.count)
        for (name, value) in headers.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            let nameOffset = storage.count
            storage.append(contentsOf: name.utf8)
            storage.append(0)
            let valueOffset = storage.count
            switch value {
            case .string(let text):
                storage.append(contentsOf: text.utf8)
            case .bytes(let bytes):
                storage.append(contentsOf: bytes)
            default:
                guard let text = value.identityText else {
                    offsets.append((nameOffset, valueOffset, nil))
                    continue
                }
                storage.append(contentsOf: text.utf8)
            }
            offsets.append((nameOffset, valueOffset, storage.count - valueOffset))
        }
        return storage.withUnsafeBufferPointer { bytes in
            let base = bytes.baseAddress!
            return withUnsafeTemporaryAllocation(of: idem_header.self, capacity: offsets.count) { array in
                for (index, offset) in offsets.enumerated() {
                    let name = UnsafeRawPointer(base + offset.name).assumingMemoryBound(to: CChar.self)
                    array.initializeElement(
                        at: index,
                        to: idem_header(
                            name: name, value: offset.valueLength.map { _ in base + offset.value },
                            value_length: offset.valueLength ?? 0))
                }
                defer { array.deinitialize() }
                return body(UnsafePointer(array.baseAddress), offsets.count)
            }
        }
    }

    /// The symbol `name` of `library` as a function of type `type`.
    private static func symbol<Function>(
        _ name: String, in library: UnsafeMutableRawPointer, path: String, as type: Function.Type
    ) throws -> Function {
        _ = dlerror()
        guard let address = dlsym(library, name) else {
            throw PluginError.missingSymbol(path: path, symbol: name)
        }
        return unsafeBitCast(address, to: type)
    }

    private static func lastDLError() -> String? {
        guard let text = dlerror() else { return nil }
        return String(cString: text)
    }
}
