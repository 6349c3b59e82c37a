/// Settings that together would lose messages or loop forever, found from the
/// configuration alone: `idem check-config` and `idem run` refuse them (errors), or point
/// at them (warnings). The checks that need the broker (a queue's type, its dead-letter
/// route, the broker's version) are the broker adapters'.
public enum SafetyChecks {
    /// A setting that cannot work, and where it is.
    public struct Problem: Sendable, Hashable {
        /// The part of the consumer the problem is reported at.
        public enum Place: Sendable, Hashable {
            case source, handler
        }

        /// Where to report it.
        public var at: Place
        /// What is wrong, naming the settings and the fix.
        public var message: String
    }

    /// librdkafka's default `max.poll.interval.ms`: 5 minutes.
    public static let defaultMaxPollInterval = Duration.seconds(300)

    /// The errors of `consumer`.
    public static func problems(_ consumer: ConsumerConfig) -> [Problem] {
        var problems: [Problem] = []
        let timeout = DurationParser.format(consumer.handler.timeout)
        switch consumer.source {
        case .amqp(let amqp):
            if consumer.handler.timeout >= amqp.consumerTimeout {
                let limit = DurationParser.format(amqp.consumerTimeout)
                problems.append(
                    Problem(
                        at: .handler,
                        message:
                            "handler.timeout (\(timeout)) is not shorter than the broker's consumer_timeout (source.amqp.consumer_timeout: \(limit)): RabbitMQ would close the channel before idem times the handler out, and the message would come back forever without an attempt counted; lower handler.timeout, or raise consumer_timeout in rabbitmq.conf and source.amqp.consumer_timeout with it"
                    ))
            }
            if amqp.queueType == .quorum, amqp.retryVia == .requeue, let limit = amqp.deliveryLimit,
                limit <= consumer.retry.maxAttempts
            {
                problems.append(
                    Problem(
                        at: .source,
                        message: deliveryLimitMessage(limit: limit, consumer: consumer, configured: true)))
            }
        case .kafka(let kafka):
            let interval = maxPollInterval(kafka)
            if consumer.handler.timeout >= interval {
                problems.append(
                    Problem(
                        at: .handler,
                        message:
                            "handler.timeout (\(timeout)) is not shorter than max.poll.interval.ms (\(interval.wholeMilliseconds) ms): during a rebalance the consumer waits for its batch in flight, and librdkafka would drop it from the group while one message is still handled; lower handler.timeout, or raise source.kafka.properties.max.poll.interval.ms above \(consumer.handler.timeout.wholeMilliseconds)"
                    ))
            }
        }
        return problems
    }

    /// The error text of a quorum queue whose delivery limit (`limit`, configured or the
    /// broker's default) ends a message before idem's attempts with `retry_via: requeue`.
    public static func deliveryLimitMessage(limit: Int, consumer: ConsumerConfig, configured: Bool) -> String {
        let source = configured ? "source.amqp.delivery_limit" : "RabbitMQ 4's default delivery-limit"
        return
            "the quorum queue's delivery limit (\(source): \(limit)) is not above retry.max_attempts (\(consumer.retry.maxAttempts)) with retry_via: requeue: each retry is a redelivery, and RabbitMQ would drop or dead-letter the message after \(limit) deliveries, before idem's attempts end; use retry_via: delay_queue (a retry is then a new message), or set x-delivery-limit above \(consumer.retry.maxAttempts) (source.amqp.delivery_limit: \(consumer.retry.maxAttempts + 5) with declare: true, or a policy)"
    }

    /// The warnings of `consumer`: in lease mode, a worst-case batch longer than what the
    /// broker allows. Lease mode is where every call of a batch runs into the timeout when
    /// the service the handler calls is down; in transactional mode every statement would
    /// have to, which a database that slow makes moot.
    public static func warnings(_ consumer: ConsumerConfig) -> [String] {
        guard consumer.dedup.mode == .lease else { return [] }
        let prefix = "consumers.\(consumer.name)"
        let worst = worstCaseBatchTime(consumer)
        let shown = DurationParser.format(worst)
        switch consumer.source {
        case .amqp(let amqp) where worst >= amqp.consumerTimeout && consumer.handler.timeout < amqp.consumerTimeout:
            return [
                "\(prefix): a batch whose every message runs into handler.timeout takes \(shown) (\(worstCaseText(consumer))), not less than the broker's consumer_timeout (\(DurationParser.format(amqp.consumerTimeout))): RabbitMQ would close the channel and redeliver the batch; lower batch.max_size or handler.timeout, or raise consumer_timeout"
            ]
        case .kafka(let kafka):
            let interval = maxPollInterval(kafka)
            guard worst >= interval, consumer.handler.timeout < interval else { return [] }
            return [
                "\(prefix): a batch whose every message runs into handler.timeout takes \(shown) (\(worstCaseText(consumer))), not less than max.poll.interval.ms (\(interval.wholeMilliseconds) ms): a rebalance meanwhile would drop the consumer from its group (no effect is lost or doubled, the next owner redoes the batch); lower batch.max_size or handler.timeout, or raise source.kafka.properties.max.poll.interval.ms"
            ]
        default:
            return []
        }
    }

    /// The longest one batch can take: every message of the largest batch running into
    /// `handler.timeout`, one after another in the dedup transaction (transactional mode)
    /// or as many at once as the handler takes (lease mode).
    public static func worstCaseBatchTime(_ consumer: ConsumerConfig) -> Duration {
        consumer.handler.timeout * rounds(consumer)
    }

    private static func rounds(_ consumer: ConsumerConfig) -> Int {
        let batch = consumer.batch.limit
        guard consumer.dedup.mode == .lease else { return batch }
        let parallel = max(1, consumer.handler.dispatchLimit(batchSize: consumer.batch.size))
        return (batch + parallel - 1) / parallel
    }

    private static func worstCaseText(_ consumer: ConsumerConfig) -> String {
        let timeout = DurationParser.format(consumer.handler.timeout)
        guard consumer.dedup.mode == .lease else {
            return "\(consumer.batch.limit) messages × \(timeout), one after another in the transaction"
        }
        return "\(rounds(consumer)) rounds of \(timeout) for \(consumer.batch.limit) messages"
    }

    /// The `max.poll.interval.ms` the consumer runs with.
    public static func maxPollInterval(_ kafka: KafkaSourceConfig) -> Duration {
        kafka.properties["max.poll.interval.ms"].flatMap(Int.init).map { .milliseconds($0) } ?? defaultMaxPollInterval
    }
}
