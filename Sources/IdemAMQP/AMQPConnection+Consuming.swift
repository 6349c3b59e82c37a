import CRabbitMQ

extension AMQPConnection {
    /// Subscribes to a queue with manual acknowledgements (`basic.consume`) and returns the
    /// consumer tag. Deliveries then arrive through ``nextDeliveries(maxCount:timeout:)``;
    /// set a prefetch with ``setPrefetch(count:global:)`` first, or the broker sends the
    /// whole queue.
    ///
    /// - Parameters:
    ///   - queue: the queue to consume.
    ///   - consumerTag: the tag to use; empty lets the broker generate one.
    ///   - exclusive: whether to refuse other consumers on the queue.
    ///   - arguments: consumer arguments (for example `x-priority`).
    /// - Throws: ``AMQPError``; a missing queue is a ``AMQPError/Kind/channelClosed`` with
    ///   reply code 404.
    @discardableResult
    public func startConsuming(
        queue: String, consumerTag: String = "", exclusive: Bool = false,
        arguments: AMQPTable = [:]
    ) async throws(AMQPError) -> String {
        let operation = "basic.consume from '\(queue)'"
        try checkShortString(queue, what: "the queue name", operation: operation)
        try checkShortString(consumerTag, what: "the consumer tag", operation: operation)
        try arguments.validate("the arguments", operation: operation)
        let state = try readyState(operation: operation)
        let arena = AMQPArena()
        let ok = amqp_basic_consume(
            state, Self.channel, arena.bytes(queue), arena.bytes(consumerTag), 0, 0,
            exclusive ? 1 : 0, arena.table(arguments))
        defer { amqp_maybe_release_buffers(state) }
        guard let ok else { throw rpcFailure(state, operation: operation) }
        let tag = ok.pointee.consumer_tag.string
        consumerTags.insert(tag)
        channelConsumerTags.insert(tag)
        logger.debug("consuming", metadata: ["queue": "\(queue)", "consumerTag": "\(tag)"])
        return tag
    }

    /// Stops a consumer (`basic.cancel`). Deliveries the broker sent before it saw the
    /// cancel may still come out of ``nextDeliveries(maxCount:timeout:)``; acknowledge (or
    /// nack) them as usual. Unacknowledged deliveries stay with this channel until
    /// acknowledged or the connection closes.
    public func cancelConsuming(consumerTag: String) async throws(AMQPError) {
        let operation = "basic.cancel '\(consumerTag)'"
        try checkShortString(consumerTag, what: "the consumer tag", operation: operation)
        let state = try readyState(operation: operation)
        let arena = AMQPArena()
        let ok = amqp_basic_cancel(state, Self.channel, arena.bytes(consumerTag))
        defer { amqp_maybe_release_buffers(state) }
        if ok == nil { throw rpcFailure(state, operation: operation) }
        consumerTags.remove(consumerTag)
        cancelledByServer.removeAll { $0 == consumerTag }
    }

    /// Returns the deliveries that arrived, waiting at most `timeout` for the first one.
    ///
    /// Deliveries already received (during an earlier call such as a confirm wait) come
    /// first. Once one is at hand, the call takes only what can be read without waiting,
    /// up to `maxCount`, and returns; with none, it returns an empty array after
    /// `timeout`, or sooner when another call (an ack, a publish) is waiting for the
    /// connection's thread. Call it again in a loop; ``deliveries(capacity:)`` does.
    ///
    /// - Throws: ``AMQPError``: ``AMQPError/Kind/consumerCancelled`` once when the broker
    ///   cancelled a consumer (after every delivery received before it was handed out),
    ///   ``AMQPError/Kind/channelClosed`` when the server closed the channel (the consumers
    ///   are gone; consume again), or a connection failure.
    public func nextDeliveries(
        maxCount: Int, timeout: Duration
    ) async throws(AMQPError) -> [AMQPDelivery] {
        let operation = "waiting for deliveries"
        guard maxCount > 0 else {
            throw AMQPError(
                kind: .invalidArgument, message: "\(operation) failed: maxCount must be positive")
        }
        let state = try readyState(operation: operation)
        let deadline = ContinuousClock.now + timeout
        reading: while buffered.count < maxCount {
            if !buffered.isEmpty {
                guard hasIncomingData(state), try readFrame(state, timeout: .zero, operation: operation) else { break }
                continue
            }
            if !cancelledByServer.isEmpty { break }
            // What has arrived (or sits decrypted in the TLS layer) first, without waiting.
            if try readFrame(state, timeout: .zero, operation: operation) { continue }
            let remaining = deadline - .now
            if remaining <= .zero { break }
            // Then wait for the socket, but give way at once to acks and publishes sent to
            // this connection's thread meanwhile. The wait is sliced so that heartbeats go
            // out on time.
            let descriptor = amqp_get_sockfd(state)
            guard descriptor >= 0 else {
                _ = try readFrame(state, timeout: remaining, operation: operation)
                break
            }
            switch executor.waitForReadable(descriptor, timeout: min(remaining, .milliseconds(250))) {
            case .readable, .timedOut: continue
            case .workPending: break reading
            }
        }
        if buffered.isEmpty, !cancelledByServer.isEmpty {
            let tag = cancelledByServer.removeFirst()
            throw AMQPError(
                kind: .consumerCancelled,
                message:
                    "RabbitMQ cancelled the consumer '\(tag)' (was its queue deleted?); consume again to resume")
        }
        let count = min(maxCount, buffered.count)
        defer { buffered.removeFirst(count) }
        return Array(buffered.prefix(count))
    }

    /// The consumer tags active on the channel.
    public var activeConsumerTags: Set<String> { consumerTags }

    /// Takes one message from a queue with `basic.get`, or returns `nil` if it is empty.
    ///
    /// - Parameters:
    ///   - queue: the queue name.
    ///   - autoAck: let the broker consider the message acknowledged on delivery; by default
    ///     the caller must ``ack(deliveryTag:multiple:)`` it.
    public func get(queue: String, autoAck: Bool = false) async throws(AMQPError)
        -> AMQPDelivery?
    {
        let operation = "basic.get from '\(queue)'"
        try checkShortString(queue, what: "the queue name", operation: operation)
        let state = try readyState(operation: operation)
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
            let (body, properties) = try readContent(
                state, operation: "\(operation) (reading content)")
            return AMQPDelivery(
                body: body, deliveryTag: deliveryTag, redelivered: redelivered,
                exchange: exchange, routingKey: routingKey, messageCount: messageCount,
                properties: properties)
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

    /// Acknowledges a delivery (`basic.ack`): the broker forgets the message.
    ///
    /// - Parameters:
    ///   - deliveryTag: the delivery's tag.
    ///   - multiple: also acknowledge every earlier unacknowledged delivery on the channel.
    /// - Throws: ``AMQPError``. A tag the channel does not know makes the server close the
    ///   channel; that surfaces on a later call as ``AMQPError/Kind/channelClosed`` 406.
    public func ack(deliveryTag: UInt64, multiple: Bool = false) async throws(AMQPError) {
        let operation = "basic.ack \(deliveryTag)\(multiple ? " (multiple)" : "")"
        let state = try readyState(operation: operation)
        let status = amqp_basic_ack(state, Self.channel, deliveryTag, multiple ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw libraryFailure(status, operation: operation)
        }
    }

    /// Negatively acknowledges deliveries (`basic.nack`).
    ///
    /// - Parameters:
    ///   - deliveryTag: the delivery's tag.
    ///   - multiple: also nack every earlier unacknowledged delivery on the channel.
    ///   - requeue: put the messages back in their queue (redelivered, with
    ///     `redelivered = true`); otherwise the broker drops them or dead-letters them when
    ///     the queue has a dead-letter exchange.
    public func nack(
        deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true
    ) async throws(AMQPError) {
        let operation = "basic.nack \(deliveryTag)\(multiple ? " (multiple)" : "")"
        let state = try readyState(operation: operation)
        let status = amqp_basic_nack(
            state, Self.channel, deliveryTag, multiple ? 1 : 0, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw libraryFailure(status, operation: operation)
        }
    }

    /// Rejects one delivery (`basic.reject`); see ``nack(deliveryTag:multiple:requeue:)``.
    public func reject(deliveryTag: UInt64, requeue: Bool = true) async throws(AMQPError) {
        let operation = "basic.reject \(deliveryTag)"
        let state = try readyState(operation: operation)
        let status = amqp_basic_reject(state, Self.channel, deliveryTag, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw libraryFailure(status, operation: operation)
        }
    }
}
