import IdemConcurrency
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
    /// Each message's span, `nil` for a message not sampled.
    private let spans: [(any Span)?]
    /// Each span's attributes, set once when it ends: setting them one by one would copy
    /// the span's attribute storage each time.
    private var attributes: [SpanAttributes]

    /// Starts a span for each of `messages` that is sampled, with `tracer`, and rewrites
    /// their trace headers to the spans' contexts.
    ///
    /// Sampling is decided here, before the tracer is asked (its sampler then samples
    /// whatever it is given: `parentBasedAlwaysOn`): a message whose producer did not sample
    /// its trace keeps the producer's headers, and one without a trace context starts a
    /// sampled trace with probability `sampleRatio`, or else gets a `traceparent` of a trace
    /// not sampled. An unsampled message thus costs no span, and its handler's own spans
    /// are not sampled either.
    init(_ messages: inout [Message], consumer: ConsumerConfig, tracer: any Tracer, sampleRatio: Double) {
        var spans: [(any Span)?] = []
        var attributes: [SpanAttributes] = []
        spans.reserveCapacity(messages.count)
        attributes.reserveCapacity(messages.count)
        // One system call per batch, not one per number.
        var random = SplitMix64()
        for index in messages.indices {
            let trace = messages[index].trace
            let sampled = trace?.sampled ?? (sampleRatio >= 1 || Double.random(in: 0..<1, using: &random) < sampleRatio)
            guard sampled else {
                if trace == nil {
                    var headers = messages[index].headers
                    MessageHeaderInjector().inject(
                        Self.unsampledTraceparent(&random), forKey: "traceparent", into: &headers)
                    messages[index].headers = headers
                }
                spans.append(nil)
                attributes.append(SpanAttributes())
                continue
            }
            var parent = ServiceContext.topLevel
            if trace != nil { tracer.extract(messages[index].headers, into: &parent, using: MessageHeaderExtractor()) }
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
            guard let span = spans[index] else { continue }
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

    /// A W3C `traceparent` of a new trace, not sampled (flags `00`), with IDs from `random`.
    static func unsampledTraceparent(_ random: inout SplitMix64) -> String {
        var high = random.next()
        let low = random.next()
        if high == 0 && low == 0 { high = 1 }
        let span = random.next() | 1
        // "00-" 32 hex digits "-" 16 hex digits "-00": 55 bytes.
        return String(unsafeUninitializedCapacity: 55) { bytes in
            let digits: StaticString = "0123456789abcdef"
            var at = 0
            func put(_ byte: UInt8) {
                bytes[at] = byte
                at += 1
            }
            func hex(_ value: UInt64) {
                for shift in stride(from: 60, through: 0, by: -4) {
                    put(digits.utf8Start[Int((value >> UInt64(shift)) & 0xF)])
                }
            }
            put(0x30)
            put(0x30)
            put(0x2D)
            hex(high)
            hex(low)
            put(0x2D)
            hex(span)
            put(0x2D)
            put(0x30)
            put(0x30)
            return at
        }
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
