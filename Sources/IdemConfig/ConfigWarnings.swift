import IdemCore

/// Settings that are valid but probably not what the operator wants; `idem check-config`
/// prints them.
public enum ConfigWarnings {
    /// Every warning for `config`, each naming the consumer and key it is about.
    public static func warnings(for config: WorkerConfig) -> [String] {
        var warnings: [String] = []
        if config.postgres.onUnavailable == .process {
            warnings.append(
                "postgres.on_unavailable: 'process' keeps consuming while PostgreSQL is down, without dedup: effects may repeat"
            )
        }
        for consumer in config.consumers {
            let prefix = "consumers.\(consumer.name)"
            let horizon = redeliveryHorizon(of: consumer)
            if consumer.dedup.retention <= horizon {
                warnings.append(
                    "\(prefix).dedup.retention (\(DurationParser.format(consumer.dedup.retention))) is not longer than the redelivery horizon (\(DurationParser.format(horizon)): retry delays × attempts); a redelivery after its row is swept would be processed again"
                )
            }
            if consumer.dedup.mode == .lease && consumer.handler.timeout > consumer.dedup.lease {
                warnings.append(
                    "\(prefix).handler.timeout (\(DurationParser.format(consumer.handler.timeout))) is longer than dedup.lease (\(DurationParser.format(consumer.dedup.lease))): another worker may take over a message still being handled"
                )
            }
            if case .amqp(let amqp) = consumer.source, consumer.concurrency > 1,
                amqp.prefetch < consumer.batch.size * consumer.concurrency
            {
                warnings.append(
                    "\(prefix).source.amqp.prefetch (\(amqp.prefetch)) is below batch.size × concurrency (\(consumer.batch.size) × \(consumer.concurrency)): fewer batches can be in flight than concurrency allows"
                )
            }
            warnings += SafetyChecks.warnings(consumer)
            if case .amqp(let amqp) = consumer.source, amqp.retryVia == .requeue, consumer.retry.maxAttempts > 1 {
                warnings.append(
                    "\(prefix).source.amqp.retry_via: 'requeue' redelivers at once, without the configured backoff")
            }
        }
        return warnings
    }

    /// The longest a message can keep coming back: the sum of the longest delays between
    /// its attempts (each at most the capped backoff with full positive jitter), plus an
    /// hour of slack for broker redelivery after a crash.
    public static func redeliveryHorizon(of consumer: ConsumerConfig) -> Duration {
        let retry = consumer.retry
        var total = Duration.seconds(3600)
        if retry.maxAttempts > 1 {
            for attempt in 1..<retry.maxAttempts {
                let base = retry.baseBackoff(afterAttempt: attempt)
                total += min(retry.maxBackoff, base * (1 + retry.jitter))
            }
        }
        return total
    }
}
