import CRabbitMQ
import IdemConcurrency
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One AMQP 0-9-1 connection to RabbitMQ with one channel, through librabbitmq.
///
/// librabbitmq is not thread-safe, so the connection is an actor whose every call runs on
/// one dedicated thread (a ``ThreadExecutor``), which also keeps its blocking socket I/O
/// off Swift's cooperative thread pool.
///
/// When the server closes the channel (`404 NOT_FOUND`, `406 PRECONDITION_FAILED`, …) the
/// call throws ``AMQPError/Kind/channelClosed`` and the next call opens a fresh channel;
/// delivery tags from before are then no longer valid. When the connection fails, every
/// later call throws; connect again.
///
/// Heartbeats: librabbitmq sends and checks heartbeats only while a call is running, so a
/// connection left idle for longer than about twice the heartbeat interval is closed by
/// the broker. Keep calling into the connection, or use a heartbeat of zero to disable
/// them.
public actor AMQPConnection {
    /// The channel every operation uses.
    private static let channel: amqp_channel_t = 1

    private let executor: ThreadExecutor
    private let logger: Logger
    /// The URL connected to (its description hides the password).
    public nonisolated let url: AMQPURL
    private var state: amqp_connection_state_t?
    private var channelOpen = false
    /// Why the connection became unusable, once it has.
    private var failure: AMQPError?

    /// Runs this actor on its own thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init(url: AMQPURL, logger: Logger) {
        self.executor = ThreadExecutor(name: "idem-amqp")
        self.url = url
        self.logger = logger
    }

    isolated deinit {
        // Runs on the connection's thread: release a connection the owner did not close.
        if let state { amqp_destroy_connection(state) }
        executor.shutdown()
    }

    /// Parses `url` and connects with the `AMQPURL` variant of this method.
    ///
    /// - Throws: ``AMQPError`` of kind ``AMQPError/Kind/invalidURL`` or
    ///   ``AMQPError/Kind/connectionFailed``.
    public static func connect(
        url: String,
        connectionName: String = "idem",
        heartbeat: Duration = .seconds(60),
        connectTimeout: Duration = .seconds(10),
        rpcTimeout: Duration? = .seconds(30),
        logger: Logger
    ) async throws(AMQPError) -> AMQPConnection {
        try await connect(
            url: AMQPURL(parsing: url), connectionName: connectionName, heartbeat: heartbeat,
            connectTimeout: connectTimeout, rpcTimeout: rpcTimeout, logger: logger)
    }

    /// Opens a TCP connection, logs in with SASL PLAIN and opens channel 1.
    ///
    /// - Parameters:
    ///   - url: where to connect; its `heartbeat` and `connection_timeout` query
    ///     parameters, when present, override `heartbeat` and `connectTimeout`.
    ///   - connectionName: the `connection_name` client property shown in the management
    ///     UI and `rabbitmqctl list_connections`.
    ///   - heartbeat: the heartbeat interval to propose (whole seconds; zero disables).
    ///   - connectTimeout: the limit for the TCP connect and for the login handshake.
    ///   - rpcTimeout: the limit for each synchronous method (`queue.declare`, …); `nil`
    ///     waits forever. A timeout makes the connection unusable.
    ///   - logger: receives connection events.
    /// - Throws: ``AMQPError`` of kind ``AMQPError/Kind/connectionFailed`` naming the host
    ///   and port, with the socket error or the server's close reason.
    public static func connect(
        url: AMQPURL,
        connectionName: String = "idem",
        heartbeat: Duration = .seconds(60),
        connectTimeout: Duration = .seconds(10),
        rpcTimeout: Duration? = .seconds(30),
        logger: Logger
    ) async throws(AMQPError) -> AMQPConnection {
        let connection = AMQPConnection(url: url, logger: logger)
        try await connection.open(
            connectionName: connectionName,
            heartbeat: url.heartbeat ?? heartbeat,
            connectTimeout: url.connectionTimeout ?? connectTimeout,
            rpcTimeout: rpcTimeout)
        return connection
    }

    private func open(
        connectionName: String, heartbeat: Duration, connectTimeout: Duration,
        rpcTimeout: Duration?
    ) throws(AMQPError) {
        assert(executor.isCurrentThread, "librabbitmq used off the connection's thread")
        let context = "could not connect to RabbitMQ at \(url.endpoint)"
        guard let state = amqp_new_connection() else {
            throw AMQPError(kind: .connectionFailed, message: "\(context): out of memory")
        }
        guard let socket = amqp_tcp_socket_new(state) else {
            amqp_destroy_connection(state)
            throw AMQPError(
                kind: .connectionFailed, message: "\(context): could not create a socket")
        }
        var timeout = timeval(connectTimeout)
        let status = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            amqp_destroy_connection(state)
            var reason = Self.libraryMessage(status)
            if status == AMQP_STATUS_SOCKET_ERROR.rawValue {
                // librabbitmq keeps the OS error to itself (refused, unreachable, reset).
                reason += " (is RabbitMQ listening there?)"
            }
            throw AMQPError(
                kind: .connectionFailed, message: "\(context): \(reason)",
                libraryStatus: status)
        }
        _ = amqp_set_handshake_timeout(state, &timeout)

        let arena = AMQPArena()
        var clientProperties = arena.table(["connection_name": connectionName])
        let login = idem_amqp_login_plain(
            state, url.vhost, Int32(url.channelMax ?? 0),
            Int32(url.frameMax ?? Int(AMQP_DEFAULT_FRAME_SIZE)),
            Int32(clamping: heartbeat.components.seconds), &clientProperties, url.user,
            url.password)
        if let error = Self.replyError(login, state: state, operation: "login") {
            amqp_destroy_connection(state)
            throw AMQPError(
                kind: .connectionFailed,
                message:
                    "\(context) as user '\(url.user)' on vhost '\(url.vhost)': \(error.message)",
                replyCode: error.replyCode, replyText: error.replyText,
                libraryStatus: error.libraryStatus)
        }
        if let rpcTimeout {
            var limit = timeval(rpcTimeout)
            _ = amqp_set_rpc_timeout(state, &limit)
        }
        self.state = state
        do {
            try openChannel(state)
        } catch {
            self.state = nil
            amqp_destroy_connection(state)
            throw AMQPError(kind: .connectionFailed, message: "\(context): \(error.message)")
        }
        logger.debug(
            "connected to RabbitMQ",
            metadata: [
                "endpoint": "\(url.endpoint)", "vhost": "\(url.vhost)",
                "heartbeat": "\(amqp_get_heartbeat(state))",
            ])
    }

    // MARK: - Queues

    /// Declares a queue (creating it if it does not exist) and returns its state.
    ///
    /// - Parameters:
    ///   - name: the queue name; empty asks the broker to generate one.
    ///   - durable: whether the queue survives a broker restart.
    ///   - exclusive: whether only this connection may use it (deleted when it closes).
    ///   - autoDelete: whether the broker deletes it when its last consumer leaves.
    /// - Throws: ``AMQPError``; declaring an existing queue with other settings is a
    ///   ``AMQPError/Kind/channelClosed`` with reply code 406.
    @discardableResult
    public func declareQueue(
        name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false
    ) async throws(AMQPError) -> AMQPQueueInfo {
        let state = try readyState()
        let operation = "queue.declare '\(name)'"
        try checkShortString(name, what: "the queue name", operation: operation)
        let arena = AMQPArena()
        let ok = amqp_queue_declare(
            state, Self.channel, arena.bytes(name), 0, durable ? 1 : 0, exclusive ? 1 : 0,
            autoDelete ? 1 : 0, amqp_empty_table)
        defer { amqp_maybe_release_buffers(state) }
        guard let ok else { throw rpcFailure(state, operation: operation) }
        return AMQPQueueInfo(
            name: ok.pointee.queue.string, messageCount: ok.pointee.message_count,
            consumerCount: ok.pointee.consumer_count)
    }

    /// Removes every ready message from a queue and returns how many were removed.
    @discardableResult
    public func purgeQueue(_ name: String) async throws(AMQPError) -> UInt32 {
        let state = try readyState()
        let operation = "queue.purge '\(name)'"
        try checkShortString(name, what: "the queue name", operation: operation)
        let arena = AMQPArena()
        let ok = amqp_queue_purge(state, Self.channel, arena.bytes(name))
        defer { amqp_maybe_release_buffers(state) }
        guard let ok else { throw rpcFailure(state, operation: operation) }
        return ok.pointee.message_count
    }

    /// Deletes a queue and returns how many messages it held.
    ///
    /// - Parameters:
    ///   - ifUnused: delete only if it has no consumers.
    ///   - ifEmpty: delete only if it has no messages.
    @discardableResult
    public func deleteQueue(
        _ name: String, ifUnused: Bool = false, ifEmpty: Bool = false
    ) async throws(AMQPError) -> UInt32 {
        let state = try readyState()
        let operation = "queue.delete '\(name)'"
        try checkShortString(name, what: "the queue name", operation: operation)
        let arena = AMQPArena()
        let ok = amqp_queue_delete(
            state, Self.channel, arena.bytes(name), ifUnused ? 1 : 0, ifEmpty ? 1 : 0)
        defer { amqp_maybe_release_buffers(state) }
        guard let ok else { throw rpcFailure(state, operation: operation) }
        return ok.pointee.message_count
    }

    // MARK: - Messages

    /// Publishes a message.
    ///
    /// Publishing is asynchronous in AMQP: a success here means the frames were written to
    /// the socket. A server-side rejection (an exchange that does not exist) closes the
    /// channel and surfaces on the next call. Publisher confirms and `mandatory` returns
    /// are not handled yet.
    ///
    /// - Parameters:
    ///   - exchange: the exchange; empty for the default exchange, which routes to the
    ///     queue named by `routingKey`.
    ///   - routingKey: the routing key.
    ///   - body: the message body.
    ///   - properties: the message properties.
    public func publish(
        exchange: String = "",
        routingKey: String,
        body: [UInt8],
        properties: AMQPProperties = AMQPProperties()
    ) async throws(AMQPError) {
        let state = try readyState()
        let operation = "basic.publish to exchange '\(exchange)' with routing key '\(routingKey)'"
        try checkShortString(exchange, what: "the exchange name", operation: operation)
        try checkShortString(routingKey, what: "the routing key", operation: operation)
        for (name, value) in properties.shortStrings {
            if let value {
                try checkShortString(value, what: "the \(name) property", operation: operation)
            }
        }
        for key in properties.headers.keys {
            try checkShortString(key, what: "header name '\(key)'", operation: operation)
        }
        let arena = AMQPArena()
        var cProperties = properties.cProperties(in: arena)
        // Neither mandatory nor immediate: basic.return frames are not handled yet.
        let status = amqp_basic_publish(
            state, Self.channel, arena.bytes(exchange), arena.bytes(routingKey),
            0, 0, &cProperties, arena.bytes(body))
        guard status == AMQP_STATUS_OK.rawValue else {
            throw libraryFailure(status, operation: operation)
        }
    }

    /// Takes one message from a queue with `basic.get`, or returns `nil` if it is empty.
    ///
    /// - Parameters:
    ///   - queue: the queue name.
    ///   - autoAck: let the broker consider the message acknowledged on delivery; by default
    ///     the caller must ``ack(deliveryTag:multiple:)`` it.
    public func get(queue: String, autoAck: Bool = false) async throws(AMQPError)
        -> AMQPDelivery?
    {
        let state = try readyState()
        let operation = "basic.get from '\(queue)'"
        try checkShortString(queue, what: "the queue name", operation: operation)
        let arena = AMQPArena()
        let reply = amqp_basic_get(state, Self.channel, arena.bytes(queue), autoAck ? 1 : 0)
        defer { amqp_maybe_release_buffers(state) }
        if let error = handle(reply, state: state, operation: operation) { throw error }
        switch reply.reply.id {
        case AMQP_BASIC_GET_EMPTY_METHOD:
            return nil
        case AMQP_BASIC_GET_OK_METHOD:
            let ok = reply.reply.decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
            // Copy the method fields before reading the content reuses the buffers.
            let deliveryTag = ok.delivery_tag
            let redelivered = ok.redelivered != 0
            let exchange = ok.exchange.string
            let routingKey = ok.routing_key.string
            let messageCount = ok.message_count
            var message = amqp_message_t()
            let read = amqp_read_message(state, Self.channel, &message, 0)
            if let error = handle(read, state: state, operation: "\(operation) (reading content)") {
                throw error
            }
            defer { amqp_destroy_message(&message) }
            return AMQPDelivery(
                body: message.body.array, deliveryTag: deliveryTag, redelivered: redelivered,
                exchange: exchange, routingKey: routingKey, messageCount: messageCount,
                properties: AMQPProperties(message.properties))
        default:
            let error = AMQPError(
                kind: .connectionLost,
                message:
                    "\(operation) failed: unexpected reply method 0x\(String(reply.reply.id, radix: 16))"
            )
            markFailed(error)
            throw error
        }
    }

    /// Acknowledges a message taken with ``get(queue:autoAck:)``.
    ///
    /// - Parameters:
    ///   - deliveryTag: the delivery's tag.
    ///   - multiple: also acknowledge every earlier unacknowledged delivery on the channel.
    public func ack(deliveryTag: UInt64, multiple: Bool = false) async throws(AMQPError) {
        let state = try readyState()
        let status = amqp_basic_ack(state, Self.channel, deliveryTag, multiple ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw libraryFailure(status, operation: "basic.ack \(deliveryTag)")
        }
    }

    // MARK: - Lifecycle

    /// Whether the connection is open and has not failed.
    public var isOpen: Bool { state != nil && failure == nil }

    /// Closes the channel and the connection politely and releases the socket. Later calls
    /// throw ``AMQPError/Kind/closed``; closing twice is harmless.
    public func close() async {
        guard let state else { return }
        self.state = nil
        if failure == nil {
            if channelOpen {
                let reply = amqp_channel_close(state, Self.channel, AMQP_REPLY_SUCCESS)
                if reply.reply_type != AMQP_RESPONSE_NORMAL {
                    logger.debug("channel.close failed while closing the RabbitMQ connection")
                }
            }
            let reply = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
            if reply.reply_type != AMQP_RESPONSE_NORMAL {
                logger.debug("connection.close failed while closing the RabbitMQ connection")
            }
        }
        channelOpen = false
        amqp_destroy_connection(state)
        logger.debug("closed RabbitMQ connection", metadata: ["endpoint": "\(url.endpoint)"])
    }

    // MARK: - Internals

    /// The connection state with channel 1 open, reopening the channel after a channel
    /// error.
    private func readyState() throws(AMQPError) -> amqp_connection_state_t {
        assert(executor.isCurrentThread, "librabbitmq used off the connection's thread")
        if let failure { throw failure }
        guard let state else {
            throw AMQPError(
                kind: .closed, message: "the RabbitMQ connection to \(url.endpoint) is closed")
        }
        if !channelOpen { try openChannel(state) }
        return state
    }

    private func openChannel(_ state: amqp_connection_state_t) throws(AMQPError) {
        _ = amqp_channel_open(state, Self.channel)
        defer { amqp_maybe_release_buffers(state) }
        if let error = handle(
            amqp_get_rpc_reply(state), state: state, operation: "channel.open")
        {
            throw error
        }
        channelOpen = true
    }

    private func checkShortString(_ text: String, what: String, operation: String)
        throws(AMQPError)
    {
        if text.utf8.count > 255 {
            throw AMQPError(
                kind: .invalidArgument,
                message:
                    "\(operation) failed: \(what) is \(text.utf8.count) bytes long; AMQP allows at most 255"
            )
        }
    }

    /// The error for a failed synchronous method, from the connection's last RPC reply.
    private func rpcFailure(_ state: amqp_connection_state_t, operation: String) -> AMQPError {
        handle(amqp_get_rpc_reply(state), state: state, operation: operation)
            ?? AMQPError(kind: .connectionLost, message: "\(operation) failed: no reply")
    }

    /// Maps a reply to an error, answers a server close with close-ok, and records
    /// whether the channel or the connection is gone. Returns nil for a normal reply.
    private func handle(
        _ reply: amqp_rpc_reply_t, state: amqp_connection_state_t, operation: String
    ) -> AMQPError? {
        guard let error = Self.replyError(reply, state: state, operation: operation) else {
            return nil
        }
        switch error.kind {
        case .channelClosed:
            channelOpen = false
            logger.debug("RabbitMQ closed the channel", metadata: ["error": "\(error.message)"])
        case .connectionClosed, .connectionLost, .connectionFailed:
            markFailed(error)
        case .invalidURL, .invalidArgument, .closed:
            break
        }
        return error
    }

    private func libraryFailure(_ status: Int32, operation: String) -> AMQPError {
        let error = AMQPError(
            kind: .connectionLost,
            message: "\(operation) failed: \(Self.libraryMessage(status))",
            libraryStatus: status)
        markFailed(error)
        return error
    }

    private func markFailed(_ error: AMQPError) {
        if failure == nil {
            failure = error
            channelOpen = false
            logger.warning(
                "RabbitMQ connection failed",
                metadata: ["endpoint": "\(url.endpoint)", "error": "\(error.message)"])
        }
    }

    /// Maps an `amqp_rpc_reply_t` to an error, sending channel.close-ok or
    /// connection.close-ok when the server closed something. Nil for a normal reply.
    private static func replyError(
        _ reply: amqp_rpc_reply_t, state: amqp_connection_state_t, operation: String
    ) -> AMQPError? {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return nil
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let status = reply.library_error
            return AMQPError(
                kind: .connectionLost,
                message: "\(operation) failed: \(libraryMessage(status))",
                libraryStatus: status)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            switch reply.reply.id {
            case AMQP_CONNECTION_CLOSE_METHOD:
                let close = reply.reply.decoded.assumingMemoryBound(
                    to: amqp_connection_close_t.self
                ).pointee
                var ok = amqp_connection_close_ok_t()
                _ = amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok)
                let text = close.reply_text.string
                return AMQPError(
                    kind: .connectionClosed,
                    message:
                        "\(operation) failed: the server closed the connection: \(close.reply_code) \(text)",
                    replyCode: close.reply_code, replyText: text, classId: close.class_id,
                    methodId: close.method_id)
            case AMQP_CHANNEL_CLOSE_METHOD:
                let close = reply.reply.decoded.assumingMemoryBound(
                    to: amqp_channel_close_t.self
                ).pointee
                var ok = amqp_channel_close_ok_t()
                _ = amqp_send_method(state, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok)
                let text = close.reply_text.string
                return AMQPError(
                    kind: .channelClosed,
                    message:
                        "\(operation) failed: the server closed the channel: \(close.reply_code) \(text)",
                    replyCode: close.reply_code, replyText: text, classId: close.class_id,
                    methodId: close.method_id)
            default:
                return AMQPError(
                    kind: .connectionLost,
                    message:
                        "\(operation) failed: unexpected server method 0x\(String(reply.reply.id, radix: 16))"
                )
            }
        default:
            return AMQPError(
                kind: .connectionLost,
                message: "\(operation) failed: the connection closed without a reply")
        }
    }

    private static func libraryMessage(_ status: Int32) -> String {
        guard let text = amqp_error_string2(status) else { return "librabbitmq error \(status)" }
        return String(cString: text)
    }
}

extension timeval {
    /// A `timeval` holding `duration` (negative durations become zero).
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else {
            self.init(tv_sec: 0, tv_usec: 0)
            return
        }
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
