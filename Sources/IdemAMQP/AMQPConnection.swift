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
/// off Swift's cooperative thread pool. Calls never suspend while they talk to the broker,
/// so they run one at a time, in the order they reach the actor.
///
/// Consuming: ``startConsuming(queue:consumerTag:exclusive:arguments:)`` subscribes with
/// manual acknowledgements; a loop then calls ``nextDeliveries(maxCount:timeout:)``, which
/// reads frames for a short while and returns what arrived. Acks, nacks and publishes from
/// other tasks run between two polls, so keep the poll timeout short (tens to a few
/// hundred milliseconds). Frames that arrive during any other call (deliveries during a
/// publisher-confirm wait, confirms during a poll) are kept and handled in order: no
/// delivery is lost.
///
/// Channel errors: when the server closes the channel (`404 NOT_FOUND`, `406
/// PRECONDITION_FAILED`, …) the call that finds out throws
/// ``AMQPError/Kind/channelClosed``, and the next call opens a fresh channel with the same
/// prefetch and confirm mode. Consumers do not survive it: deliveries not yet acknowledged
/// go back to their queue, their tags are no longer valid, and buffered ones are dropped;
/// call ``startConsuming(queue:consumerTag:exclusive:arguments:)`` again (or reconnect).
///
/// Connection failures: a lost socket, missed heartbeats or a server close (`320
/// CONNECTION_FORCED` on broker shutdown or `rabbitmqctl close_connection`) make every
/// later call throw the same error (``AMQPError/isConnectionFailure``), and ``isOpen``
/// becomes `false`. Make a new connection; ``close()`` (or dropping the last reference)
/// releases the dead one and ends its thread.
///
/// Heartbeats: librabbitmq sends and checks heartbeats whenever it reads or writes. While
/// the connection is idle (no call for half the heartbeat interval), a background task
/// reads on its behalf, so an idle connection stays alive without help.
public actor AMQPConnection {
    /// The channel every operation uses.
    static let channel: amqp_channel_t = 1
    /// At most this many frames are handled before one call proceeds, so that a flood of
    /// incoming frames cannot stall it.
    static let drainLimit = 10_000

    let executor: ThreadExecutor
    let logger: Logger
    /// The URL connected to (its description hides the password).
    public nonisolated let url: AMQPURL
    var state: amqp_connection_state_t?
    var channelOpen = false
    /// Why the connection became unusable, once it has.
    var failure: AMQPError?
    /// A channel close found while no call could report it; the next call throws it.
    var deferredChannelError: AMQPError?
    var rpcTimeout: Duration?
    /// The `basic.qos` to apply again when the channel reopens.
    var prefetch: (count: UInt16, global: Bool)?
    var confirms = AMQPConfirmTracker()
    /// Deliveries read but not yet handed out by `nextDeliveries`.
    var buffered: [AMQPDelivery] = []
    /// Consumer tags active on the channel.
    var consumerTags: Set<String> = []
    /// Every consumer tag started on the current channel, cancelled ones included: a
    /// delivery for any other tag is a leftover of a closed channel.
    var channelConsumerTags: Set<String> = []
    /// Consumers the broker cancelled, not yet reported by `nextDeliveries`.
    var cancelledByServer: [String] = []
    /// When a call last used the connection.
    var lastActivity = ContinuousClock.now
    /// What the broker said about itself when the connection opened (`product`, `version`,
    /// `capabilities`).
    public private(set) var serverProperties: AMQPTable = [:]
    var keepAliveTask: Task<Void, Never>?
    /// Why the broker blocks publishing on this connection (`connection.blocked`, e.g. a
    /// memory or disk alarm), or `nil` when it does not.
    public internal(set) var blockedReason: String?

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
        keepAliveTask?.cancel()
        if let state { amqp_destroy_connection(state) }
        executor.shutdown()
    }

    /// Parses `url` and connects with the `AMQPURL` variant of this method.
    ///
    /// - Throws: ``AMQPError`` of kind ``AMQPError/Kind/invalidURL`` or
    ///   ``AMQPError/Kind/connectionFailed``.
    public static func connect(
        url: String,
        tls: AMQPTLSOptions? = nil,
        connectionName: String = "idem",
        heartbeat: Duration = .seconds(60),
        connectTimeout: Duration = .seconds(10),
        rpcTimeout: Duration? = .seconds(30),
        logger: Logger
    ) async throws(AMQPError) -> AMQPConnection {
        try await connect(
            url: AMQPURL(parsing: url), tls: tls, connectionName: connectionName,
            heartbeat: heartbeat, connectTimeout: connectTimeout, rpcTimeout: rpcTimeout,
            logger: logger)
    }

    /// Opens a TCP (or, for `amqps://`, TLS) connection, logs in with SASL PLAIN and opens
    /// channel 1.
    ///
    /// - Parameters:
    ///   - url: where to connect; its `heartbeat` and `connection_timeout` query
    ///     parameters, when present, override `heartbeat` and `connectTimeout`.
    ///   - tls: TLS settings for an `amqps://` URL (`nil`: verify against the system CAs);
    ///     ignored for `amqp://`.
    ///   - connectionName: the `connection_name` client property shown in the management
    ///     UI and `rabbitmqctl list_connections user_provided_name`.
    ///   - heartbeat: the heartbeat interval to propose (whole seconds; zero disables).
    ///   - connectTimeout: the limit for the TCP connect, the TLS handshake and the login.
    ///   - rpcTimeout: the limit for each synchronous method (`queue.declare`, …) and for
    ///     each publisher-confirm wait; `nil` waits forever. A method timeout makes the
    ///     connection unusable; a confirm timeout does not.
    ///   - logger: receives connection events.
    /// - Throws: ``AMQPError`` of kind ``AMQPError/Kind/connectionFailed`` naming the host
    ///   and port, with the socket or TLS error, the file that could not be read, or the
    ///   server's close reason.
    public static func connect(
        url: AMQPURL,
        tls: AMQPTLSOptions? = nil,
        connectionName: String = "idem",
        heartbeat: Duration = .seconds(60),
        connectTimeout: Duration = .seconds(10),
        rpcTimeout: Duration? = .seconds(30),
        logger: Logger
    ) async throws(AMQPError) -> AMQPConnection {
        let connection = AMQPConnection(url: url, logger: logger)
        try await connection.open(
            tls: tls,
            connectionName: connectionName,
            heartbeat: url.heartbeat ?? heartbeat,
            connectTimeout: url.connectionTimeout ?? connectTimeout,
            rpcTimeout: rpcTimeout)
        return connection
    }

    private func open(
        tls: AMQPTLSOptions?, connectionName: String, heartbeat: Duration,
        connectTimeout: Duration, rpcTimeout: Duration?
    ) throws(AMQPError) {
        assert(executor.isCurrentThread, "librabbitmq used off the connection's thread")
        let context = "could not connect to RabbitMQ at \(url.endpoint)"
        guard let state = amqp_new_connection() else {
            throw AMQPError(kind: .connectionFailed, message: "\(context): out of memory")
        }
        let arena = AMQPArena()
        let socket: OpaquePointer
        do {
            socket = try makeSocket(state, tls: tls, arena: arena, context: context)
        } catch {
            amqp_destroy_connection(state)
            throw error
        }
        var timeout = timeval(connectTimeout)
        let status = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            amqp_destroy_connection(state)
            var reason = Self.libraryMessage(status)
            if status == AMQP_STATUS_SOCKET_ERROR.rawValue {
                // librabbitmq keeps the OS error to itself (refused, unreachable, reset).
                reason += " (is RabbitMQ listening there?)"
            } else if status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue {
                reason += " (is the CA file the one that signed the broker's certificate?)"
            } else if status == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue {
                reason += " (the broker's certificate does not name the host '\(url.host)')"
            } else if status == AMQP_STATUS_SSL_CONNECTION_FAILED.rawValue {
                reason += " (does the broker speak TLS on this port, and accept the client certificate?)"
            }
            throw AMQPError(
                kind: .connectionFailed, message: "\(context): \(reason)",
                libraryStatus: status)
        }
        _ = amqp_set_handshake_timeout(state, &timeout)

        // librabbitmq merges these with its own properties. Without the capabilities the
        // broker would not send basic.cancel for a deleted queue, nor connection.blocked.
        let capabilities: AMQPTable = [
            "consumer_cancel_notify": true, "connection.blocked": true, "basic.nack": true,
            "publisher_confirms": true, "authentication_failure_close": true,
        ]
        var clientProperties = arena.table([
            "connection_name": .utf8(connectionName), "product": "idem", "capabilities": .table(capabilities),
        ])
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
        if let properties = amqp_get_server_properties(state) {
            serverProperties = AMQPTable(properties.pointee)
        }
        self.rpcTimeout = rpcTimeout
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
        lastActivity = .now
        let negotiated = amqp_get_heartbeat(state)
        if negotiated > 0 { startKeepAlive(every: .milliseconds(Int(negotiated) * 500)) }
        logger.debug(
            "connected to RabbitMQ",
            metadata: [
                "endpoint": "\(url.endpoint)", "vhost": "\(url.vhost)", "tls": "\(url.usesTLS)",
                "heartbeat": "\(negotiated)",
            ])
    }

    /// The broker's version (`3.10.8`, `4.0.5`), from its server properties.
    public var serverVersion: String? {
        guard case .some(let value) = serverProperties["version"] else { return nil }
        return value.stringValue
    }

    /// The major version of the broker (`4` for `4.0.5`), when it says.
    public var serverMajorVersion: Int? {
        serverVersion.flatMap { $0.split(separator: ".").first.flatMap { Int($0) } }
    }

    /// A TCP socket, or for `amqps://` a TLS socket set up from `tls`.
    private func makeSocket(
        _ state: amqp_connection_state_t, tls: AMQPTLSOptions?, arena: AMQPArena, context: String
    ) throws(AMQPError) -> OpaquePointer {
        guard url.usesTLS else {
            guard let socket = amqp_tcp_socket_new(state) else {
                throw AMQPError(
                    kind: .connectionFailed, message: "\(context): could not create a socket")
            }
            return socket
        }
        let options = tls ?? AMQPTLSOptions()
        func failed(_ reason: String) -> AMQPError {
            AMQPError(kind: .connectionFailed, message: "\(context): \(reason)")
        }
        func checkReadable(_ path: String, _ what: String) throws(AMQPError) {
            if let reason = AMQPTLSOptions.unreadableReason(path) {
                throw failed("cannot read \(what) '\(path)': \(reason)")
            }
        }
        guard let socket = amqp_ssl_socket_new(state) else {
            throw failed("could not create a TLS socket (OpenSSL failed to initialise)")
        }
        amqp_ssl_socket_set_verify_peer(socket, options.verifyPeer ? 1 : 0)
        amqp_ssl_socket_set_verify_hostname(socket, options.verifyHostname ? 1 : 0)
        var caFile = options.caFile
        if caFile == nil, options.verifyPeer {
            caFile = AMQPTLSOptions.systemBundles.first { AMQPTLSOptions.unreadableReason($0) == nil }
            if caFile == nil {
                throw failed(
                    "no TLS CA file was given and no system CA bundle was found (tried "
                        + AMQPTLSOptions.systemBundles.joined(separator: ", ") + ")")
            }
        }
        if let caFile {
            try checkReadable(caFile, "the TLS CA file")
            guard amqp_ssl_socket_set_cacert(socket, caFile) == AMQP_STATUS_OK.rawValue else {
                throw failed("the TLS CA file '\(caFile)' holds no valid PEM certificate")
            }
        }
        switch (options.certFile, options.keyFile) {
        case (nil, nil):
            break
        case (let certFile?, let keyFile?):
            try checkReadable(certFile, "the TLS client certificate file")
            try checkReadable(keyFile, "the TLS client key file")
            // Without a password OpenSSL would prompt on the terminal for an encrypted key.
            amqp_ssl_socket_set_key_passwd(socket, arena.cString(options.keyPassword ?? ""))
            guard amqp_ssl_socket_set_key(socket, certFile, keyFile) == AMQP_STATUS_OK.rawValue else {
                throw failed(
                    "could not load the TLS client certificate '\(certFile)' with the key '\(keyFile)': "
                        + "not PEM, encrypted with another password, or not a matching pair")
            }
        default:
            throw AMQPError(
                kind: .invalidArgument,
                message: "\(context): a TLS client certificate needs both certFile and keyFile")
        }
        return socket
    }

    // MARK: - Lifecycle

    /// Whether the connection is open and has not failed.
    public var isOpen: Bool { state != nil && failure == nil }

    /// Closes the channel and the connection politely (when they still work), releases the
    /// socket and lets the connection's thread end. Later calls throw
    /// ``AMQPError/Kind/closed`` (or the failure that killed the connection); closing twice
    /// is harmless. Deliveries not acknowledged go back to their queues.
    public func close() async {
        keepAliveTask?.cancel()
        keepAliveTask = nil
        defer { executor.shutdown() }
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
        buffered.removeAll()
        consumerTags.removeAll()
        channelConsumerTags.removeAll()
        amqp_destroy_connection(state)
        logger.debug("closed RabbitMQ connection", metadata: ["endpoint": "\(url.endpoint)"])
    }

    /// Reads on behalf of an idle connection every `interval`, so that heartbeats are sent
    /// and answered; the task ends when the connection closes, fails or goes away.
    private func startKeepAlive(every interval: Duration) {
        keepAliveTask = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let connection = self else { return }
                guard await connection.keepAlive(idleAfter: interval) else { return }
            }
        }
    }

    /// One keep-alive tick; returns whether to keep ticking.
    private func keepAlive(idleAfter interval: Duration) -> Bool {
        guard let state, failure == nil else { return false }
        guard ContinuousClock.now - lastActivity >= interval else { return true }
        do {
            // At least one read, which sends a heartbeat when one is due.
            try drain(state, operation: "keeping the connection alive", force: true)
        } catch {
            if error.kind == .channelClosed { deferredChannelError = error }
        }
        return failure == nil
    }

    // MARK: - Internals

    /// The connection state with channel 1 open, after handling the frames that already
    /// arrived; reopens the channel after a channel error.
    func readyState(operation: String) throws(AMQPError) -> amqp_connection_state_t {
        assert(executor.isCurrentThread, "librabbitmq used off the connection's thread")
        if let failure { throw failure }
        guard let state else {
            throw AMQPError(
                kind: .closed, message: "the RabbitMQ connection to \(url.endpoint) is closed")
        }
        if let error = deferredChannelError {
            deferredChannelError = nil
            throw error
        }
        lastActivity = .now
        try drain(state, operation: operation)
        if !channelOpen { try openChannel(state) }
        return state
    }

    /// Opens channel 1 and applies the prefetch and confirm mode chosen before.
    private func openChannel(_ state: amqp_connection_state_t) throws(AMQPError) {
        _ = amqp_channel_open(state, Self.channel)
        defer { amqp_maybe_release_buffers(state) }
        if let error = handle(amqp_get_rpc_reply(state), state: state, operation: "channel.open") {
            throw error
        }
        channelOpen = true
        let stale = discardQueuedChannelFrames(state)
        if stale > 0 {
            logger.debug("dropped deliveries of the previous channel", metadata: ["count": "\(stale)"])
        }
        if let prefetch {
            if amqp_basic_qos(state, Self.channel, 0, prefetch.count, prefetch.global ? 1 : 0) == nil {
                throw rpcFailure(state, operation: "basic.qos on the reopened channel")
            }
        }
        if confirms.isEnabled {
            if amqp_confirm_select(state, Self.channel) == nil {
                throw rpcFailure(state, operation: "confirm.select on the reopened channel")
            }
            confirms.enable()
        }
    }

    /// Whether a frame can be read without waiting.
    func hasIncomingData(_ state: amqp_connection_state_t) -> Bool {
        if amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 { return true }
        let descriptor = amqp_get_sockfd(state)
        guard descriptor >= 0 else { return false }
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&request, 1, 0) > 0
    }

    /// Handles the frames that already arrived (deliveries, confirms, returns, closes).
    /// With `force`, reads at least once (which sends a heartbeat when one is due).
    func drain(
        _ state: amqp_connection_state_t, operation: String, force: Bool = false
    ) throws(AMQPError) {
        var reads = 0
        while reads < Self.drainLimit, (force && reads == 0) || hasIncomingData(state) {
            reads += 1
            guard try readFrame(state, timeout: .zero, operation: operation) else { return }
        }
    }

    /// Reads one frame, waiting at most `timeout`, and handles it; `false` when none came.
    func readFrame(
        _ state: amqp_connection_state_t, timeout: Duration, operation: String
    ) throws(AMQPError) -> Bool {
        var frame = amqp_frame_t()
        var limit = timeval(timeout)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &limit)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return false }
        guard status == AMQP_STATUS_OK.rawValue else {
            throw libraryFailure(status, operation: operation)
        }
        defer { amqp_maybe_release_buffers_on_channel(state, frame.channel) }
        guard frame.frame_type == AMQP_FRAME_METHOD else {
            logger.debug("ignored a stray content frame", metadata: ["channel": "\(frame.channel)"])
            return true
        }
        let method = frame.payload.method
        if frame.channel == 0 {
            try handleConnectionMethod(method, state: state, operation: operation)
        } else if frame.channel == Self.channel && channelOpen {
            try handleChannelMethod(method, state: state, operation: operation)
        }
        return true
    }

    private func handleConnectionMethod(
        _ method: amqp_method_t, state: amqp_connection_state_t, operation: String
    ) throws(AMQPError) {
        switch method.id {
        case AMQP_CONNECTION_CLOSE_METHOD:
            throw serverClose(method, state: state, operation: operation)
        case AMQP_CONNECTION_BLOCKED_METHOD:
            let blocked = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            blockedReason = blocked.reason.string
            logger.warning(
                "RabbitMQ blocks publishing on this connection",
                metadata: ["endpoint": "\(url.endpoint)", "reason": "\(blocked.reason.string)"])
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            blockedReason = nil
            logger.info("RabbitMQ unblocked publishing", metadata: ["endpoint": "\(url.endpoint)"])
        default:
            logger.debug("ignored connection method 0x\(String(method.id, radix: 16))")
        }
    }

    private func handleChannelMethod(
        _ method: amqp_method_t, state: amqp_connection_state_t, operation: String
    ) throws(AMQPError) {
        switch method.id {
        case AMQP_BASIC_DELIVER_METHOD:
            let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            // Copy the method fields before reading the content reuses the buffers.
            let deliveryTag = deliver.delivery_tag
            let redelivered = deliver.redelivered != 0
            let exchange = deliver.exchange.string
            let routingKey = deliver.routing_key.string
            let consumerTag = deliver.consumer_tag.string
            let (body, properties) = try readContent(
                state, operation: "\(operation) (reading a delivery)")
            guard channelConsumerTags.contains(consumerTag) else {
                logger.debug(
                    "dropped a delivery of a closed channel",
                    metadata: ["consumerTag": "\(consumerTag)", "deliveryTag": "\(deliveryTag)"])
                return
            }
            buffered.append(
                AMQPDelivery(
                    body: body, deliveryTag: deliveryTag, redelivered: redelivered,
                    exchange: exchange, routingKey: routingKey, consumerTag: consumerTag,
                    properties: properties))
        case AMQP_BASIC_RETURN_METHOD:
            let returned = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let replyCode = returned.reply_code
            let replyText = returned.reply_text.string
            let exchange = returned.exchange.string
            let routingKey = returned.routing_key.string
            let (body, _) = try readContent(state, operation: "\(operation) (reading a returned message)")
            let matched = confirms.returned(
                exchange: exchange, routingKey: routingKey, body: body, replyCode: replyCode,
                replyText: replyText)
            if !matched {
                logger.warning(
                    "RabbitMQ returned a message nobody waits for; publish mandatory messages with publishAndConfirm",
                    metadata: [
                        "exchange": "\(exchange)", "routingKey": "\(routingKey)",
                        "reply": "\(replyCode) \(replyText)",
                    ])
            }
        case AMQP_BASIC_ACK_METHOD:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            confirms.acknowledged(tag: ack.delivery_tag, multiple: ack.multiple != 0)
        case AMQP_BASIC_NACK_METHOD:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            confirms.negativelyAcknowledged(tag: nack.delivery_tag, multiple: nack.multiple != 0)
        case AMQP_BASIC_CANCEL_METHOD:
            let cancel = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = cancel.consumer_tag.string
            if cancel.nowait == 0 {
                var ok = amqp_basic_cancel_ok_t(consumer_tag: cancel.consumer_tag)
                _ = amqp_send_method(state, Self.channel, AMQP_BASIC_CANCEL_OK_METHOD, &ok)
            }
            if consumerTags.remove(tag) != nil { cancelledByServer.append(tag) }
            logger.warning(
                "RabbitMQ cancelled a consumer (was its queue deleted?)",
                metadata: ["consumerTag": "\(tag)"])
        case AMQP_CHANNEL_CLOSE_METHOD:
            throw serverClose(method, state: state, operation: operation)
        default:
            logger.debug("ignored channel method 0x\(String(method.id, radix: 16))")
        }
    }

    /// Reads the content header and body frames that follow `basic.deliver`,
    /// `basic.return` or `basic.get-ok`.
    func readContent(
        _ state: amqp_connection_state_t, operation: String
    ) throws(AMQPError) -> (body: [UInt8], properties: AMQPProperties) {
        var message = amqp_message_t()
        let reply = amqp_read_message(state, Self.channel, &message, 0)
        if let error = handle(reply, state: state, operation: operation) { throw error }
        defer { amqp_destroy_message(&message) }
        return (message.body.array, AMQPProperties(message.properties))
    }

    /// The error for a `connection.close` or `channel.close` the server sent, after
    /// answering it.
    private func serverClose(
        _ method: amqp_method_t, state: amqp_connection_state_t, operation: String
    ) -> AMQPError {
        var reply = amqp_rpc_reply_t()
        reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION
        reply.reply = method
        return handle(reply, state: state, operation: operation)
            ?? AMQPError(kind: .connectionLost, message: "\(operation) failed: unexpected close")
    }

    func checkShortString(_ text: String, what: String, operation: String)
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
    func rpcFailure(_ state: amqp_connection_state_t, operation: String) -> AMQPError {
        handle(amqp_get_rpc_reply(state), state: state, operation: operation)
            ?? AMQPError(kind: .connectionLost, message: "\(operation) failed: no reply")
    }

    /// Maps a reply to an error, answers a server close with close-ok, and records
    /// whether the channel or the connection is gone. Returns nil for a normal reply.
    func handle(
        _ reply: amqp_rpc_reply_t, state: amqp_connection_state_t, operation: String
    ) -> AMQPError? {
        guard let error = Self.replyError(reply, state: state, operation: operation) else {
            return nil
        }
        switch error.kind {
        case .channelClosed:
            channelClosed(error, state: state)
        case .connectionClosed, .connectionLost, .connectionFailed:
            markFailed(error)
        default:
            break
        }
        return error
    }

    /// Forgets everything that lived on the closed channel.
    private func channelClosed(_ error: AMQPError, state: amqp_connection_state_t) {
        channelOpen = false
        let dropped = buffered.count + discardQueuedChannelFrames(state)
        if dropped > 0 {
            logger.debug(
                "dropped deliveries of a closed channel; the broker requeues them",
                metadata: ["count": "\(dropped)"])
        }
        buffered.removeAll()
        consumerTags.removeAll()
        channelConsumerTags.removeAll()
        confirms.channelClosed(error)
        logger.debug("RabbitMQ closed the channel", metadata: ["error": "\(error.message)"])
    }

    /// Drops the channel's frames that librabbitmq queued while it waited for a method
    /// reply, and returns how many deliveries were among them; handles the connection's.
    ///
    /// Called when the channel closes (the queued frames came before the close) and when it
    /// reopens: RabbitMQ may still send frames of the old channel after its
    /// `channel.close`, and every frame of the channel number before `channel.open-ok`
    /// belongs to the old channel, with delivery tags the new one does not know.
    private func discardQueuedChannelFrames(_ state: amqp_connection_state_t) -> Int {
        var deliveries = 0
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        while amqp_frames_enqueued(state) != 0 {
            var frame = amqp_frame_t()
            guard amqp_simple_wait_frame_noblock(state, &frame, &zero) == AMQP_STATUS_OK.rawValue else {
                break
            }
            guard frame.frame_type == AMQP_FRAME_METHOD else { continue }
            if frame.channel == 0 {
                // A connection.close marks the connection failed; the current call reports
                // its own error, the next call the connection's.
                try? handleConnectionMethod(frame.payload.method, state: state, operation: "reopening the channel")
            } else if frame.channel == Self.channel, frame.payload.method.id == AMQP_BASIC_DELIVER_METHOD {
                deliveries += 1
            }
        }
        return deliveries
    }

    func libraryFailure(_ status: Int32, operation: String) -> AMQPError {
        let error = AMQPError(
            kind: .connectionLost,
            message: "\(operation) failed: \(Self.libraryMessage(status))",
            libraryStatus: status)
        markFailed(error)
        return error
    }

    func markFailed(_ error: AMQPError) {
        if failure == nil {
            failure = error
            channelOpen = false
            buffered.removeAll()
            consumerTags.removeAll()
            channelConsumerTags.removeAll()
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

    static func libraryMessage(_ status: Int32) -> String {
        guard let text = amqp_error_string2(status) else { return "librabbitmq error \(status)" }
        return String(cString: text)
    }
}

extension timeval {
    /// A `timeval` holding `duration` (negative durations become zero).
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else {
            self.init(tv_sec: 0, tv_usec: 0)
            return
        }
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
