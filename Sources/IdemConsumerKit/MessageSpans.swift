import IdemConfig
import IdemCore
import Tracing

/// The consumer spans of one batch: a `process <destination>` span per message, a child of
/// the producer's span when the message carries a W3C trace context, ended with what idem
/// decided.
///
/// While the batch runs, each message's `traceparent` and `tracestate` are those of its
/// span, so that an exec or plugin handler (and a sql handler's `header:traceparent`)
/// continues idem's span; dead letters are made from the messages as received, and keep
/// the producer's context.
struct MessageSpans {
    private let spans: [any Span]
    /// Each span's attributes, set once when it ends: setting them one by one would copy
    /// the span's attribute storage each time.
    private var attributes: [SpanAttributes]

    /// Starts a span for each of `messages` with `tracer`, and rewrites their trace
    /// headers to the spans' contexts.
    init(_ messages: inout [Message], consumer: ConsumerConfig, tracer: any Tracer) {
        var spans: [any Span] = []
        var attributes: [SpanAttributes] = []
        spans.reserveCapacity(messages.count)
        attributes.reserveCapacity(messages.count)
        for index in messages.indices {
            var parent = ServiceContext.topLevel
            tracer.extract(messages[index].headers, into: &parent, using: MessageHeaderExtractor())
            let destination = Self.destination(of: messages[index], consumer: consumer)
            let span = tracer.startSpan("process \(destination)", context: parent, ofKind: .consumer)
            var headers = messages[index].headers
            tracer.inject(span.context, into: &headers, using: MessageHeaderInjector())
            messages[index].headers = headers
            spans.append(span)
            attributes.append(
                span.isRecording
                    ? Self.attributes(of: messages[index], consumer: consumer, destination: destination)
                    : SpanAttributes())
        }
        self.spans = spans
        self.attributes = attributes
    }

    /// Ends every span with its message's decision.
    func end(_ decisions: [BatchProcessor.Decision]) {
        for (index, decision) in zip(spans.indices, decisions) {
            let span = spans[index]
            guard span.isRecording else {
                span.end()
                continue
            }
            var attributes = attributes[index]
            if let id = decision.id { attributes["idem.message_id"] = id.value }
            if let attempt = decision.event.attempt { attributes["idem.attempt"] = attempt }
            attributes["idem.outcome"] = Self.outcome(decision.disposition)
            switch decision.disposition {
            case .acknowledge, .suspend:
                break
            case .retry(_, _, let reason):
                span.setStatus(SpanStatus(code: .error, message: reason))
            case .deadLetter(let reason):
                attributes["idem.dead_letter_reason"] = reason.code
                span.setStatus(SpanStatus(code: .error, message: reason.description))
            }
            span.attributes = attributes
            span.end()
        }
    }

    /// The span attributes of `message` (OpenTelemetry's messaging conventions).
    private static func attributes(of message: Message, consumer: ConsumerConfig, destination: String)
        -> SpanAttributes
    {
        var attributes = SpanAttributes()
        attributes["messaging.operation.type"] = "process"
        attributes["messaging.destination.name"] = destination
        attributes["idem.consumer"] = consumer.name
        switch consumer.source {
        case .amqp:
            attributes["messaging.system"] = "rabbitmq"
            if let id = message.properties.messageId { attributes["messaging.message.id"] = id }
        case .kafka(let kafka):
            attributes["messaging.system"] = "kafka"
            attributes["messaging.consumer.group.name"] = kafka.group
        }
        if let position = message.source.position {
            attributes["messaging.destination.partition.id"] = String(position.lane)
            attributes[consumer.source.kind == .kafka ? "messaging.kafka.offset" : "idem.stream_offset"] =
                Int(position.offset)
        }
        if let count = message.source.deliveryCount { attributes["idem.delivery_count"] = count }
        return attributes
    }

    /// The queue or topic `message` came from.
    private static func destination(of message: Message, consumer: ConsumerConfig) -> String {
        if let position = message.source.position { return position.stream }
        if case .amqp(let amqp) = consumer.source { return amqp.queue }
        return consumer.name
    }

    /// The `idem.outcome` attribute of a decision.
    static func outcome(_ disposition: Disposition) -> String {
        switch disposition {
        case .acknowledge(.processed): return "processed"
        case .acknowledge(.duplicate): return "duplicate"
        case .acknowledge(.payloadConflictAccepted): return "payload-conflict-accepted"
        case .acknowledge(.deadLetteredBefore): return "dead-lettered-before"
        case .retry: return "retry"
        case .deadLetter: return "dead-letter"
        case .suspend: return "suspended"
        }
    }
}

extension ProcessingEvent {
    /// The attempt the handler ran as, when it ran.
    fileprivate var attempt: Int? {
        switch self {
        case .handled(_, let attempt), .handlerFailed(_, let attempt): return attempt
        default: return nil
        }
    }
}
