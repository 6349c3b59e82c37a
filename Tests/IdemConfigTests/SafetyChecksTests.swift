import Testing

@testable import IdemConfig

/// Settings that would lose messages or loop are refused before anything connects; those
/// that only risk churn are warnings.
@Suite("Configuration: safety checks")
struct SafetyChecksTests {
    private func amqp(_ source: String, handler: String = "", retry: String = "") -> String {
        """
        postgres:
          url: postgres://idem@127.0.0.1:5432/idem
        consumers:
          - name: orders
            source:
              amqp: {url: "amqp://127.0.0.1:5672/%2F", queue: orders\(source)}
            handler: {sql: "INSERT INTO effects(id) VALUES ($1)", params: [id]\(handler)}
            \(retry)
        """
    }

    private func kafka(_ properties: String, handler: String, dedup: String = "") -> String {
        """
        postgres:
          url: postgres://idem@127.0.0.1:5432/idem
        consumers:
          - name: events
            source:
              kafka: {brokers: "127.0.0.1:9092", topics: [events], group: g, properties: {\(properties)}}
            handler: \(handler)
            \(dedup)
        """
    }

    @Test func aHandlerTimeoutNotShorterThanTheBrokersConsumerTimeoutIsRefused() throws {
        let found = issues(amqp(", consumer_timeout: 15m", handler: ", timeout: 20m")).map(\.message)
        #expect(found.count == 1)
        #expect(
            found.first?.contains("handler.timeout (20m) is not shorter than the broker's consumer_timeout") == true,
            "\(found)")
        #expect(found.first?.contains("lower handler.timeout, or raise consumer_timeout in rabbitmq.conf") == true)
        #expect(try load(amqp(", consumer_timeout: 15m", handler: ", timeout: 14m")).consumers.count == 1)
        // RabbitMQ's default, 30 minutes.
        #expect(issues(amqp("", handler: ", timeout: 30m")).count == 1)
    }

    @Test func aQuorumDeliveryLimitThatEndsRetriesEarlyIsRefused() throws {
        let source = ", queue_type: quorum, delivery_limit: 5, retry_via: requeue"
        let found = issues(amqp(source, retry: "retry: {max_attempts: 5}")).map(\.message)
        #expect(found.count == 1)
        #expect(
            found.first?.contains("delivery limit (source.amqp.delivery_limit: 5) is not above retry.max_attempts (5)")
                == true, "\(found)")
        #expect(found.first?.contains("use retry_via: delay_queue") == true)
        // A delay queue's retry is a new message, and a higher limit leaves room.
        let delayed = ", queue_type: quorum, delivery_limit: 5, retry_via: delay_queue"
        #expect(try load(amqp(delayed, retry: "retry: {max_attempts: 5}")).consumers.count == 1)
        let roomy = ", queue_type: quorum, delivery_limit: 6, retry_via: requeue"
        let config = try load(amqp(roomy, retry: "retry: {max_attempts: 5}"))
        guard case .amqp(let settings) = config.consumers[0].source else { return }
        #expect(settings.queueType == .quorum)
        #expect(settings.deliveryLimit == 6)
        let classic = issues(amqp(", delivery_limit: 6")).map(\.message)
        #expect(classic.first?.contains("delivery_limit is a quorum queue's setting") == true, "\(classic)")
    }

    @Test func aStreamIsDeclaredWithItsRetentionAndRetriesInPlace() throws {
        let source = ", queue_type: stream, stream: {start: next, max_age: 7d, max_length_bytes: 1000000000}"
        let config = try load(amqp(source))
        guard case .amqp(let settings) = config.consumers[0].source else {
            Issue.record("not an AMQP source")
            return
        }
        #expect(settings.queueType == .stream)
        #expect(settings.streamStart == .next)
        #expect(settings.streamMaxAge == .seconds(7 * 86_400))
        #expect(settings.streamMaxLengthBytes == 1_000_000_000)
        #expect(try load(amqp(", queue_type: stream")).consumers.count == 1, "the defaults need nothing")
        for via in ["requeue", "delay_queue"] {
            let found = issues(amqp(", queue_type: stream, retry_via: \(via)")).map(\.message)
            #expect(found.count == 1)
            #expect(found.first?.contains("a stream retries in place") == true, "\(found)")
        }
        let classic = issues(amqp(", stream: {start: first}")).map(\.message)
        #expect(classic.first?.contains("stream settings are a stream's; set queue_type: stream") == true, "\(classic)")
        let start = issues(amqp(", queue_type: stream, stream: {start: latest}")).map(\.message)
        #expect(start.first?.contains("latest") == true, "\(start)")
    }

    @Test func aHandlerTimeoutNotShorterThanMaxPollIntervalIsRefused() throws {
        let sql = "{sql: \"INSERT INTO effects(id) VALUES ($1)\", params: [id], timeout: 6m}"
        let found = issues(kafka("", handler: sql)).map(\.message)
        #expect(found.count == 1)
        #expect(
            found.first?.contains("handler.timeout (6m) is not shorter than max.poll.interval.ms (300000 ms)") == true,
            "\(found)")
        #expect(found.first?.contains("raise source.kafka.properties.max.poll.interval.ms above 360000") == true)
        #expect(try load(kafka("max.poll.interval.ms: \"400000\"", handler: sql)).consumers.count == 1)
    }

    @Test func aLeaseModeBatchLongerThanMaxPollIntervalIsAWarning() throws {
        let exec = "{exec: [python3, handler.py], processes: 1, in_flight: 4, timeout: 10s}"
        let config = try load(kafka("", handler: exec))
        let warnings = ConfigWarnings.warnings(for: config)
        #expect(
            warnings.contains {
                $0.contains("takes 2500s (250 rounds of 10s for 1000 messages), not less than max.poll.interval.ms")
            }, "\(warnings)")
        let fits = try load(kafka("", handler: exec, dedup: "batch: {size: 100, max_size: 100}"))
        #expect(!ConfigWarnings.warnings(for: fits).contains { $0.contains("max.poll.interval.ms") })
        // In transactional mode a slow database, not a slow service, would be the cause: no warning.
        let sql = "{sql: \"INSERT INTO effects(id) VALUES ($1)\", params: [id], timeout: 10s}"
        #expect(!ConfigWarnings.warnings(for: try load(kafka("", handler: sql))).contains { $0.contains("max.poll") })
    }
}
