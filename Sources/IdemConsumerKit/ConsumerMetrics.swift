import CoreMetrics
import IdemCore
import Metrics
import Synchronization

/// One consumer's metrics (swift-metrics; the executable chooses the backend, Prometheus
/// for `idem run`), all with the dimension `consumer`.
///
/// | metric | kind |
/// |---|---|
/// | `idem_messages_received_total` | counter |
/// | `idem_messages_processed_total` | counter: handler succeeded |
/// | `idem_messages_duplicate_total` | counter: ID already done |
/// | `idem_messages_retried_total` | counter: transient failure, attempts left |
/// | `idem_messages_deferred_total` | counter: put back without an attempt |
/// | `idem_messages_dead_lettered_total` | counter, with `reason` |
/// | `idem_payload_conflicts_total` | counter |
/// | `idem_stale_fence_refused_total` | counter: completion refused, the row was taken over |
/// | `idem_handler_duration_seconds` | histogram |
/// | `idem_dedup_round_trip_seconds` | histogram, with `operation` |
/// | `idem_batch_size` | histogram |
/// | `idem_messages_in_flight` | gauge |
/// | `idem_reconnects_total` | counter, with `service` (`amqp`, `kafka`, `postgres`) |
/// | `idem_kafka_lag` | gauge, with `topic` and `partition` |
/// | `idem_amqp_queue_messages` | gauge: messages ready in the consumer's RabbitMQ queue |
/// | `idem_retention_deleted_total` | counter: rows removed by the sweeper |
public final class ConsumerMetrics: Sendable {
    /// The consumer's name.
    public let consumer: String
    private let received: Counter
    private let processed: Counter
    private let duplicates: Counter
    private let retried: Counter
    private let deferred: Counter
    private let payloadConflicts: Counter
    private let staleFence: Counter
    private let handlerDuration: Metrics.Timer
    private let batchSize: Recorder
    private let inFlight: Meter
    private let retentionDeleted: Counter
    private let deadLettered = Mutex<[String: Counter]>([:])
    private let roundTrips = Mutex<[String: Metrics.Timer]>([:])
    private let reconnects = Mutex<[String: Counter]>([:])
    private let lags = Mutex<[String: (gauge: Gauge, value: Int64)]>([:])
    private let queueMessages: Gauge
    private let backlog = Mutex<(queue: Int64?, inFlight: Int)>((nil, 0))
    /// The counts for `idem stats`, written to the stats table by ``StatsFlusher``.
    public let minutes: MinuteStats?

    private let factory: any MetricsFactory

    /// Creates the consumer's metrics in `factory` (the bootstrapped metrics system unless
    /// another is given); `minutes` collects the counts for the stats table.
    public init(consumer: String, minutes: MinuteStats? = nil, factory: any MetricsFactory = MetricsSystem.factory) {
        self.consumer = consumer
        self.minutes = minutes
        self.factory = factory
        let dimensions = [("consumer", consumer)]
        func counter(_ label: String) -> Counter { Counter(label: label, dimensions: dimensions, factory: factory) }
        received = counter("idem_messages_received_total")
        processed = counter("idem_messages_processed_total")
        duplicates = counter("idem_messages_duplicate_total")
        retried = counter("idem_messages_retried_total")
        deferred = counter("idem_messages_deferred_total")
        payloadConflicts = counter("idem_payload_conflicts_total")
        staleFence = counter("idem_stale_fence_refused_total")
        retentionDeleted = counter("idem_retention_deleted_total")
        handlerDuration = Metrics.Timer(
            label: "idem_handler_duration_seconds", dimensions: dimensions, factory: factory)
        batchSize = Recorder(label: "idem_batch_size", dimensions: dimensions, aggregate: true, factory: factory)
        inFlight = Meter(label: "idem_messages_in_flight", dimensions: dimensions, factory: factory)
        queueMessages = Gauge(label: "idem_amqp_queue_messages", dimensions: dimensions, factory: factory)
    }

    /// Counts a batch's decisions.
    public func record(_ dispositions: [Disposition]) {
        let tally = DecisionTally(dispositions)
        batchSize.record(dispositions.count)
        received.increment(by: tally.received)
        if tally.processed > 0 { processed.increment(by: tally.processed) }
        if tally.duplicates > 0 { duplicates.increment(by: tally.duplicates) }
        if tally.retried > 0 { retried.increment(by: tally.retried) }
        if tally.deferred > 0 { deferred.increment(by: tally.deferred) }
        if tally.payloadConflicts > 0 { payloadConflicts.increment(by: tally.payloadConflicts) }
        for (reason, count) in tally.deadLettered {
            deadLetterCounter(reason).increment(by: count)
        }
        minutes?.add(consumer: consumer, tally)
    }

    /// Counts dead letters an adapter published outside a batch's decisions (code `reason`).
    public func deadLettered(_ reason: String, count: Int = 1) {
        if count > 0 { deadLetterCounter(reason).increment(by: count) }
    }

    /// Messages taken in (`count` > 0) or finished (`count` < 0).
    public func inFlight(_ count: Int) {
        backlog.withLock { $0.inFlight += count }
        if count >= 0 {
            inFlight.increment(by: Double(count))
        } else {
            inFlight.decrement(by: Double(-count))
        }
    }

    /// A lease completion refused because another worker took the row over.
    public func staleFenceRefused() {
        staleFence.increment()
    }

    /// One handler call's duration.
    public func handlerCall(took duration: Duration) {
        handlerDuration.recordNanoseconds(Self.nanoseconds(duration))
    }

    /// One dedup store round trip (`claim`, `finish`, `transaction`, `offsets`).
    public func roundTrip(_ operation: String, took duration: Duration) {
        let timer = roundTrips.withLock { timers in
            if let timer = timers[operation] { return timer }
            let timer = Metrics.Timer(
                label: "idem_dedup_round_trip_seconds", dimensions: [("consumer", consumer), ("operation", operation)],
                factory: factory)
            timers[operation] = timer
            return timer
        }
        timer.recordNanoseconds(Self.nanoseconds(duration))
    }

    /// The consumer connected again to `service` (`amqp`, `kafka` or `postgres`) after
    /// losing it.
    public func reconnected(_ service: String) {
        let counter = reconnects.withLock { counters in
            if let counter = counters[service] { return counter }
            let counter = Counter(
                label: "idem_reconnects_total", dimensions: [("consumer", consumer), ("service", service)],
                factory: factory)
            counters[service] = counter
            return counter
        }
        counter.increment()
    }

    /// The records of a lane of a log not processed yet: its high watermark minus the
    /// offset below which every record is done; `nil` removes the lane's gauge (it was
    /// revoked). Recorded as `idem_kafka_lag`, with the stream as `topic` and the lane as
    /// `partition` (the names dashboards and autoscalers know).
    public func logLag(stream topic: String, lane partition: Int32, _ lag: Int64?) {
        let key = "\(topic)\u{0}\(partition)"
        if let lag {
            let lag = max(0, lag)
            let gauge = lags.withLock { gauges in
                if let gauge = gauges[key]?.gauge {
                    gauges[key]?.value = lag
                    return gauge
                }
                let gauge = Gauge(
                    label: "idem_kafka_lag",
                    dimensions: [("consumer", consumer), ("topic", topic), ("partition", String(partition))],
                    factory: factory)
                gauges[key] = (gauge, lag)
                return gauge
            }
            gauge.record(lag)
        } else if let gauge = lags.withLock({ $0.removeValue(forKey: key)?.gauge }) {
            gauge.record(0)
        }
    }

    /// The messages ready in the consumer's queue, as the broker last reported them
    /// (RabbitMQ); recorded as `idem_amqp_queue_messages`.
    public func queueDepth(_ messages: Int64) {
        backlog.withLock { $0.queue = messages }
        queueMessages.record(messages)
    }

    /// What the consumer has not processed yet: the sum of its log lanes' lag (Kafka), or
    /// the messages ready in its queue (RabbitMQ); `nil` before the first report.
    public var lag: Int64? {
        let lanes = lags.withLock { gauges in gauges.isEmpty ? nil : gauges.values.reduce(0) { $0 + $1.value } }
        return lanes ?? backlog.withLock { $0.queue }
    }

    /// The messages taken from the broker and not settled yet.
    public var messagesInFlight: Int { backlog.withLock { $0.inFlight } }

    /// Rows the retention sweeper deleted.
    public func retentionDeleted(_ rows: Int) {
        if rows > 0 { retentionDeleted.increment(by: rows) }
    }

    private func deadLetterCounter(_ reason: String) -> Counter {
        deadLettered.withLock { counters in
            if let counter = counters[reason] { return counter }
            let counter = Counter(
                label: "idem_messages_dead_lettered_total", dimensions: [("consumer", consumer), ("reason", reason)],
                factory: factory)
            counters[reason] = counter
            return counter
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
