import CRabbitMQ

extension AMQPConnection {
    /// Publishes a message and returns its publisher-confirm sequence number (0 when the
    /// channel is not in confirm mode, see ``confirmSelect()``).
    ///
    /// Publishing is asynchronous in AMQP: a success here means the frames were written to
    /// the socket. Use ``publishAndConfirm(exchange:routingKey:body:properties:mandatory:)``,
    /// or ``waitForConfirms()`` after a batch, to know the broker took the messages. A
    /// server-side rejection (an exchange that does not exist) closes the channel and
    /// surfaces on a later call.
    ///
    /// - Parameters:
    ///   - exchange: the exchange; empty for the default exchange, which routes to the
    ///     queue named by `routingKey`.
    ///   - routingKey: the routing key.
    ///   - body: the message body.
    ///   - properties: the message properties and headers.
    ///   - mandatory: ask the broker to return the message (`basic.return`) when no queue
    ///     takes it; in confirm mode that makes its confirm fail with
    ///     ``AMQPError/Kind/unroutable``.
    /// - Throws: ``AMQPError``: ``AMQPError/Kind/invalidArgument`` for names longer than
    ///   255 bytes or properties that do not fit in one frame, or a connection failure.
    @discardableResult
    public func publish(
        exchange: String = "",
        routingKey: String,
        body: [UInt8],
        properties: AMQPProperties = AMQPProperties(),
        mandatory: Bool = false
    ) async throws(AMQPError) -> UInt64 {
        try send(
            exchange: exchange, routingKey: routingKey, body: body, properties: properties,
            mandatory: mandatory, awaited: false
        ).sequence
    }

    /// Publishes `messages` in their order, in one call of the connection's thread instead
    /// of one per message, and returns the last one's publisher-confirm sequence number (0
    /// outside confirm mode). As with ``publish(exchange:routingKey:body:properties:mandatory:)``,
    /// use ``waitForConfirms()`` to know the broker took them.
    ///
    /// - Throws: the first message's ``AMQPError`` (see
    ///   ``publish(exchange:routingKey:body:properties:mandatory:)``); the messages before
    ///   it were written.
    @discardableResult
    public func publish(_ messages: [AMQPOutgoingMessage]) async throws(AMQPError) -> UInt64 {
        var sequence: UInt64 = 0
        for message in messages {
            sequence = try send(
                exchange: message.exchange, routingKey: message.routingKey, body: message.body,
                properties: message.properties, mandatory: message.mandatory, awaited: false
            ).sequence
        }
        return sequence
    }

    /// Publishes a message and waits, up to the RPC timeout, until the broker confirms it.
    ///
    /// Puts the channel in confirm mode first if it is not. Deliveries and other confirms
    /// that arrive meanwhile are kept for later calls.
    ///
    /// - Parameters: see ``publish(exchange:routingKey:body:properties:mandatory:)``; pass
    ///   `mandatory: true` to learn that nothing routed the message.
    /// - Throws: ``AMQPError``: ``AMQPError/Kind/unroutable`` when a mandatory message was
    ///   returned, ``AMQPError/Kind/publishNacked`` when the broker refused it,
    ///   ``AMQPError/Kind/timeout`` when no confirm came in time,
    ///   ``AMQPError/Kind/channelClosed`` when the server closed the channel (for example
    ///   404 for a missing exchange), or a connection failure. In every case but success
    ///   treat the message as not published.
    public func publishAndConfirm(
        exchange: String = "",
        routingKey: String,
        body: [UInt8],
        properties: AMQPProperties = AMQPProperties(),
        mandatory: Bool = false
    ) async throws(AMQPError) {
        if !confirms.isEnabled { try await confirmSelect() }
        let (state, sequence) = try send(
            exchange: exchange, routingKey: routingKey, body: body, properties: properties,
            mandatory: mandatory, awaited: true)
        let operation =
            "waiting for the confirm of \(AMQPConfirmTracker.operation(exchange: exchange, routingKey: routingKey))"
        let deadline = rpcTimeout.map { ContinuousClock.now + $0 }
        while true {
            switch confirms.takeResult(for: sequence) {
            case .confirmed?: return
            case .failed(let error)?: throw error
            case nil: break
            }
            var wait = Duration.seconds(1)
            if let deadline {
                wait = deadline - .now
                if wait <= .zero {
                    confirms.stopAwaiting(sequence)
                    throw AMQPError(
                        kind: .timeout,
                        message: "\(operation) failed: no confirm within \(rpcTimeout!)")
                }
            }
            _ = try readFrame(state, timeout: wait, operation: operation)
        }
    }

    /// Waits, up to the RPC timeout, until the broker has confirmed every message
    /// published so far, and reports those it did not take.
    ///
    /// Returns at once when the channel is not in confirm mode.
    ///
    /// - Throws: ``AMQPError``: the first failure among the publishes since the last call
    ///   (``AMQPError/Kind/unroutable``, ``AMQPError/Kind/publishNacked``, or
    ///   ``AMQPError/Kind/channelClosed`` for those the channel lost), with the number of
    ///   further failures in its message; ``AMQPError/Kind/timeout`` when some stay
    ///   unconfirmed; or a connection failure.
    public func waitForConfirms() async throws(AMQPError) {
        let operation = "waiting for publisher confirms"
        let state = try readyState(operation: operation)
        let deadline = rpcTimeout.map { ContinuousClock.now + $0 }
        while confirms.hasPending {
            var wait = Duration.seconds(1)
            if let deadline {
                wait = deadline - .now
                if wait <= .zero {
                    throw AMQPError(
                        kind: .timeout,
                        message:
                            "\(operation) failed: \(confirms.pendingCount) publishes still unconfirmed after \(rpcTimeout!)"
                    )
                }
            }
            _ = try readFrame(state, timeout: wait, operation: operation)
        }
        let failures = confirms.takeFailures()
        if var first = failures.first {
            if failures.count > 1 {
                first.message += " (and \(failures.count - 1) more publishes failed)"
            }
            throw first
        }
    }

    /// Validates, encodes and writes one publish; returns the state and the sequence
    /// number.
    private func send(
        exchange: String, routingKey: String, body: [UInt8], properties: AMQPProperties,
        mandatory: Bool, awaited: Bool
    ) throws(AMQPError) -> (state: amqp_connection_state_t, sequence: UInt64) {
        let operation = AMQPConfirmTracker.operation(exchange: exchange, routingKey: routingKey)
        try checkShortString(exchange, what: "the exchange name", operation: operation)
        try checkShortString(routingKey, what: "the routing key", operation: operation)
        for (name, value) in properties.shortStrings {
            if let value {
                try checkShortString(value, what: "the \(name) property", operation: operation)
            }
        }
        try properties.headers.validate("the header table", operation: operation)
        let state = try readyState(operation: operation)
        // librabbitmq writes the method frame before it encodes the content header, so a
        // header that does not fit would leave the connection half-written: refuse it here.
        let frameMax = Int(amqp_get_frame_max(state))
        let headerFrameSize = 8 + 12 + properties.encodedSize
        if frameMax > 0, headerFrameSize > frameMax {
            throw AMQPError(
                kind: .invalidArgument,
                message:
                    "\(operation) failed: the properties and headers take \(headerFrameSize) bytes; one frame holds \(frameMax)"
            )
        }
        let arena = AMQPArena()
        var cProperties = properties.cProperties(in: arena)
        let exchangeBytes = arena.bytes(exchange)
        let routingKeyBytes = arena.bytes(routingKey)
        // librabbitmq only reads the body while it writes the frames: no copy needed.
        let status = body.withUnsafeBytes { raw in
            amqp_basic_publish(
                state, Self.channel, exchangeBytes, routingKeyBytes, mandatory ? 1 : 0, 0, &cProperties,
                amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)))
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            throw libraryFailure(status, operation: operation)
        }
        let sequence = confirms.published(
            exchange: exchange, routingKey: routingKey, body: body, mandatory: mandatory,
            awaited: awaited)
        return (state, sequence)
    }
}
