import CRabbitMQ

extension AMQPConnection {
    /// Declares a queue (creating it if it does not exist) and returns its state.
    ///
    /// - Parameters:
    ///   - name: the queue name; empty asks the broker to generate one.
    ///   - durable: whether the queue survives a broker restart.
    ///   - exclusive: whether only this connection may use it (deleted when it closes).
    ///   - autoDelete: whether the broker deletes it when its last consumer leaves.
    ///   - arguments: optional arguments such as `x-dead-letter-exchange` (``AMQPFieldValue/utf8(_:)``),
    ///     `x-dead-letter-routing-key`, `x-message-ttl` (an integer, milliseconds),
    ///     `x-queue-type`, `x-max-priority`.
    /// - Throws: ``AMQPError``; declaring an existing queue with other settings or
    ///   arguments is a ``AMQPError/Kind/channelClosed`` with reply code 406.
    @discardableResult
    public func declareQueue(
        name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: AMQPTable = [:]
    ) async throws(AMQPError) -> AMQPQueueInfo {
        let operation = "queue.declare '\(name)'"
        try checkShortString(name, what: "the queue name", operation: operation)
        try arguments.validate("the arguments", operation: operation)
        let state = try readyState(operation: operation)
        let arena = AMQPArena()
        let ok = amqp_queue_declare(
            state, Self.channel, arena.bytes(name), 0, durable ? 1 : 0, exclusive ? 1 : 0,
            autoDelete ? 1 : 0, arena.table(arguments))
        defer { amqp_maybe_release_buffers(state) }
        guard let ok else { throw rpcFailure(state, operation: operation) }
        return AMQPQueueInfo(
            name: ok.pointee.queue.string, messageCount: ok.pointee.message_count,
            consumerCount: ok.pointee.consumer_count)
    }

    /// Returns the state of an existing queue without changing it (a passive
    /// `queue.declare`).
    ///
    /// - Throws: ``AMQPError``; a queue that does not exist is a
    ///   ``AMQPError/Kind/channelClosed`` with reply code 404.
    public func inspectQueue(_ name: String) async throws(AMQPError) -> AMQPQueueInfo {
        let operation = "queue.declare (passive) '\(name)'"
        try checkShortString(name, what: "the queue name", operation: operation)
        let state = try readyState(operation: operation)
        let arena = AMQPArena()
        let ok = amqp_queue_declare(
            state, Self.channel, arena.bytes(name), 1, 0, 0, 0, amqp_empty_table)
        defer { amqp_maybe_release_buffers(state) }
        guard let ok else { throw rpcFailure(state, operation: operation) }
        return AMQPQueueInfo(
            name: ok.pointee.queue.string, messageCount: ok.pointee.message_count,
            consumerCount: ok.pointee.consumer_count)
    }

    /// Removes every ready message from a queue and returns how many were removed.
    @discardableResult
    public func purgeQueue(_ name: String) async throws(AMQPError) -> UInt32 {
        let operation = "queue.purge '\(name)'"
        try checkShortString(name, what: "the queue name", operation: operation)
        let state = try readyState(operation: operation)
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
        let operation = "queue.delete '\(name)'"
        try checkShortString(name, what: "the queue name", operation: operation)
        let state = try readyState(operation: operation)
        let arena = AMQPArena()
        let ok = amqp_queue_delete(
            state, Self.channel, arena.bytes(name), ifUnused ? 1 : 0, ifEmpty ? 1 : 0)
        defer { amqp_maybe_release_buffers(state) }
        guard let ok else { throw rpcFailure(state, operation: operation) }
        return ok.pointee.message_count
    }

    /// Declares an exchange (creating it if it does not exist).
    ///
    /// - Parameters:
    ///   - name: the exchange name (not empty: the default exchange cannot be declared).
    ///   - type: `direct`, `fanout`, `topic`, `headers` or a plugin's type.
    ///   - durable: whether the exchange survives a broker restart.
    ///   - autoDelete: whether the broker deletes it when its last binding goes.
    ///   - internal: whether clients may not publish to it directly.
    ///   - arguments: optional arguments such as `alternate-exchange`.
    /// - Throws: ``AMQPError``; redeclaring with another type or settings is a
    ///   ``AMQPError/Kind/channelClosed`` with reply code 406.
    public func declareExchange(
        name: String, type: String = "direct", durable: Bool = true, autoDelete: Bool = false,
        internal isInternal: Bool = false, arguments: AMQPTable = [:]
    ) async throws(AMQPError) {
        let operation = "exchange.declare '\(name)' of type '\(type)'"
        try checkShortString(name, what: "the exchange name", operation: operation)
        try checkShortString(type, what: "the exchange type", operation: operation)
        try arguments.validate("the arguments", operation: operation)
        let state = try readyState(operation: operation)
        let arena = AMQPArena()
        let ok = amqp_exchange_declare(
            state, Self.channel, arena.bytes(name), arena.bytes(type), 0, durable ? 1 : 0,
            autoDelete ? 1 : 0, isInternal ? 1 : 0, arena.table(arguments))
        defer { amqp_maybe_release_buffers(state) }
        if ok == nil { throw rpcFailure(state, operation: operation) }
    }

    /// Checks that an exchange exists, without changing it (a passive `exchange.declare`).
    ///
    /// - Throws: ``AMQPError``; an exchange that does not exist is a
    ///   ``AMQPError/Kind/channelClosed`` with reply code 404.
    public func inspectExchange(_ name: String) async throws(AMQPError) {
        let operation = "exchange.declare (passive) '\(name)'"
        try checkShortString(name, what: "the exchange name", operation: operation)
        let state = try readyState(operation: operation)
        let arena = AMQPArena()
        let ok = amqp_exchange_declare(
            state, Self.channel, arena.bytes(name), arena.bytes("direct"), 1, 0, 0, 0, amqp_empty_table)
        defer { amqp_maybe_release_buffers(state) }
        if ok == nil { throw rpcFailure(state, operation: operation) }
    }

    /// Deletes an exchange (and its bindings).
    ///
    /// - Parameter ifUnused: delete only if no queue or exchange is bound to it.
    public func deleteExchange(_ name: String, ifUnused: Bool = false) async throws(AMQPError) {
        let operation = "exchange.delete '\(name)'"
        try checkShortString(name, what: "the exchange name", operation: operation)
        let state = try readyState(operation: operation)
        let arena = AMQPArena()
        let ok = amqp_exchange_delete(state, Self.channel, arena.bytes(name), ifUnused ? 1 : 0)
        defer { amqp_maybe_release_buffers(state) }
        if ok == nil { throw rpcFailure(state, operation: operation) }
    }

    /// Binds a queue to an exchange, so that messages published to the exchange with a
    /// matching routing key (or headers, for a headers exchange) reach the queue.
    ///
    /// - Throws: ``AMQPError``; a missing queue or exchange is a
    ///   ``AMQPError/Kind/channelClosed`` with reply code 404.
    public func bindQueue(
        queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]
    ) async throws(AMQPError) {
        let operation = "queue.bind '\(queue)' to exchange '\(exchange)' with routing key '\(routingKey)'"
        let state = try bindingState(
            queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments, operation: operation)
        let arena = AMQPArena()
        let ok = amqp_queue_bind(
            state, Self.channel, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey),
            arena.table(arguments))
        defer { amqp_maybe_release_buffers(state) }
        if ok == nil { throw rpcFailure(state, operation: operation) }
    }

    /// Removes a binding made with ``bindQueue(queue:exchange:routingKey:arguments:)``.
    public func unbindQueue(
        queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]
    ) async throws(AMQPError) {
        let operation = "queue.unbind '\(queue)' from exchange '\(exchange)' with routing key '\(routingKey)'"
        let state = try bindingState(
            queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments, operation: operation)
        let arena = AMQPArena()
        let ok = amqp_queue_unbind(
            state, Self.channel, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey),
            arena.table(arguments))
        defer { amqp_maybe_release_buffers(state) }
        if ok == nil { throw rpcFailure(state, operation: operation) }
    }

    /// Checks the arguments of `queue.bind` / `queue.unbind` and returns the ready state.
    private func bindingState(
        queue: String, exchange: String, routingKey: String, arguments: AMQPTable, operation: String
    ) throws(AMQPError) -> amqp_connection_state_t {
        try checkShortString(queue, what: "the queue name", operation: operation)
        try checkShortString(exchange, what: "the exchange name", operation: operation)
        try checkShortString(routingKey, what: "the routing key", operation: operation)
        try arguments.validate("the arguments", operation: operation)
        return try readyState(operation: operation)
    }

    /// Limits how many deliveries the broker sends before they are acknowledged
    /// (`basic.qos`); kept when the channel is reopened after a channel error.
    ///
    /// - Parameters:
    ///   - count: unacknowledged deliveries in flight, 1 to 65535; 0 means no limit.
    ///   - global: RabbitMQ: share the limit among all consumers of the channel instead of
    ///     applying it to each consumer started afterwards.
    public func setPrefetch(count: Int, global: Bool = false) async throws(AMQPError) {
        let operation = "basic.qos prefetch \(count)"
        guard let limit = UInt16(exactly: count) else {
            throw AMQPError(
                kind: .invalidArgument,
                message: "\(operation) failed: the prefetch count must be from 0 to 65535")
        }
        let state = try readyState(operation: operation)
        let ok = amqp_basic_qos(state, Self.channel, 0, limit, global ? 1 : 0)
        defer { amqp_maybe_release_buffers(state) }
        if ok == nil { throw rpcFailure(state, operation: operation) }
        prefetch = (limit, global)
    }

    /// Puts the channel in publisher-confirm mode (`confirm.select`): from now on the
    /// broker acknowledges every publish, ``publish(exchange:routingKey:body:properties:mandatory:)``
    /// returns sequence numbers, and ``publishAndConfirm(exchange:routingKey:body:properties:mandatory:)``
    /// and ``waitForConfirms()`` can wait for them. Calling it again does nothing; the mode
    /// is kept when the channel is reopened after a channel error.
    public func confirmSelect() async throws(AMQPError) {
        let state = try readyState(operation: "confirm.select")
        guard !confirms.isEnabled else { return }
        let ok = amqp_confirm_select(state, Self.channel)
        defer { amqp_maybe_release_buffers(state) }
        if ok == nil { throw rpcFailure(state, operation: "confirm.select") }
        confirms.enable()
    }
}
