import Foundation
import Testing

@testable import IdemConfig
@testable import IdemCore

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

let minimal = """
    postgres:
      url: postgres://idem@127.0.0.1:5432/idem
    consumers:
      - name: orders
        source:
          amqp:
            url: amqp://guest:guest@127.0.0.1:5672/%2F
            queue: orders
        handler:
          sql: "INSERT INTO effects(id) VALUES ($1)"
          params: [id]
    """

func load(_ yaml: String, env: [String: String] = [:]) throws(ConfigError) -> WorkerConfig {
    try ConfigLoader.parse(yaml: yaml, file: "worker.yaml", environment: env)
}

func issues(_ yaml: String, env: [String: String] = [:]) -> [ConfigIssue] {
    do {
        _ = try load(yaml, env: env)
        Issue.record("the configuration was accepted")
        return []
    } catch {
        return error.issues
    }
}

@Suite("Configuration")
struct ConfigLoaderTests {
    @Test func theExampleIsValidAndCoversEveryKind() throws {
        let path = repositoryRoot.appendingPathComponent("worker.yaml.example").path
        let config = try ConfigLoader.load(file: path, environment: [:])
        #expect(config.consumers.map(\.name) == ["orders", "events"])
        #expect(config.consumers[0].source.kind == .amqp)
        #expect(config.consumers[1].source.kind == .kafka)
        #expect(config.consumers[1].dedup.mode == .lease)
        #expect(
            config.consumers[0].identity.sources == [
                .messageId, .header("X-Request-Id"), .json(try JSONPointer("/order/id")),
            ])
    }

    @Test func defaults() throws {
        let config = try load(minimal)
        let consumer = config.consumers[0]
        #expect(config.postgres.table == "processed_messages")
        #expect(config.postgres.onUnavailable == .pause)
        #expect(config.shutdown.gracePeriod == .seconds(30))
        #expect(consumer.identity.sources == [.messageId])
        #expect(consumer.dedup.mode == .transactional)
        #expect(consumer.retry == .default)
        #expect(consumer.handler.kind == .sql(statement: "INSERT INTO effects(id) VALUES ($1)", parameters: [.id]))
        guard case .amqp(let amqp) = consumer.source else {
            Issue.record("not amqp")
            return
        }
        #expect(amqp.deadLetterRoutingKey == "orders.dlq")
        #expect(amqp.retryVia == .delayQueue)
    }

    @Test func brokenYAMLNamesLineAndColumn() {
        let found = issues("postgres:\n  url: [unclosed\nconsumers: []\n")
        #expect(found.count == 1)
        #expect(found.first?.line == 3)
        #expect(found.first?.description.hasPrefix("worker.yaml:3:") == true)
        #expect(found.first?.message.hasPrefix("invalid YAML:") == true)
    }

    @Test func wrongTypeNamesKeyPathAndExpectation() {
        let yaml = minimal + "\n    retry:\n      max_attempts: five\n"
        let found = issues(yaml)
        #expect(
            found.map(\.description) == [
                "worker.yaml:13:21: consumers[0].retry.max_attempts: expected a whole number from 1 to 1000, got \"five\""
            ])
    }

    @Test func unknownKeySuggestsTheNearestValidKey() {
        let yaml = minimal + "\n    retyr:\n      max_attempts: 3\n"
        let found = issues(yaml)
        #expect(found.count == 1)
        #expect(found.first?.path.description == "consumers[0].retyr")
        #expect(found.first?.message == "unknown key 'retyr'; did you mean 'retry'?")
        #expect(found.first?.line == 12)
    }

    @Test func unknownKeyWithoutNearMatchListsValidKeys() {
        let found = issues(minimal.replacingOccurrences(of: "consumers:", with: "zzz: 1\nconsumers:"))
        #expect(found.first?.message.contains("valid keys: postgres, consumers, shutdown, logging") == true)
    }

    @Test func missingRequiredKey() {
        let found = issues(minimal.replacingOccurrences(of: "        queue: orders\n", with: ""))
        #expect(
            found.map(\.description) == [
                "worker.yaml:7:9: consumers[0].source.amqp: missing required key 'queue' (the queue to consume)"
            ])
    }

    @Test func unsetEnvironmentVariable() {
        let yaml = minimal.replacingOccurrences(of: "postgres://idem@", with: "postgres://idem:${PG_PASSWORD}@")
        let found = issues(yaml)
        #expect(found.count == 1)
        #expect(found.first?.path.description == "postgres.url")
        #expect(found.first?.message.contains("environment variable PG_PASSWORD is not set") == true)
    }

    @Test func environmentInterpolation() throws {
        let yaml = minimal.replacingOccurrences(
            of: "postgres://idem@127.0.0.1:5432/idem", with: "postgres://idem:${PW}@${HOST:-localhost}:$${X}/idem")
        let config = try load(yaml, env: ["PW": "s3cret"])
        #expect(config.postgres.url == "postgres://idem:s3cret@localhost:${X}/idem")
        #expect(config.postgres.redactedURL == "postgres://idem:***@localhost:${X}/idem")
        #expect(config.interpolatedVariables == ["PW", "HOST"])
        let empty = try load(yaml, env: ["PW": "p", "HOST": ""])
        #expect(empty.postgres.url.contains("@localhost:"))
    }

    @Test func everyProblemIsReportedAtOnce() {
        let yaml = """
            postgres:
              url: mysql://x
              pool_size: 0
            consumers:
              - name: "bad name"
                source:
                  kafka:
                    brokers: 127.0.0.1:9092
                    topics: []
                    group: g
                id: [message_id]
                handler:
                  sql: "SELECT $1"
                  params: [id]
                  timeout: never
                dedup:
                  mode: lease
            """
        let paths = Set(issues(yaml).map(\.path.description))
        #expect(
            paths.isSuperset(of: [
                "postgres.url", "postgres.pool_size", "consumers[0].name", "consumers[0].source.kafka.topics",
                "consumers[0].handler.timeout",
            ]))
    }

    @Test func sqlHandlerNeedsTransactionalMode() {
        let found = issues(minimal + "\n    dedup: {mode: lease}\n")
        #expect(found.map(\.path.description) == ["consumers[0].dedup"])
        #expect(found.first?.message.contains("needs dedup mode 'transactional'") == true)
    }

    @Test func idSourceMustSuitTheSourceKind() {
        let yaml = minimal + "\n    id: [key]\n"
        #expect(issues(yaml).first?.message == "ID source 'key' never yields a value for a amqp consumer")
    }

    @Test func idSourceForms() throws {
        let yaml = minimal + "\n    id: [{header: X-Id}, {json: /a~1b}, content_hash]\n"
        #expect(
            try load(yaml).consumers[0].identity.sources == [
                .header("X-Id"), .json(try JSONPointer("/a~1b")), .contentHash,
            ])
        #expect(issues(minimal + "\n    id: [{json: a}]\n").first?.message.contains("must start with '/'") == true)
        #expect(
            issues(minimal + "\n    id: [mesage_id]\n").first?.message.contains("did you mean 'message_id'?") == true)
        #expect(
            issues(minimal + "\n    id: [header]\n").first?.message == "'header' needs a value: write 'header: NAME'")
    }

    @Test func sqlParamsMustMatchPlaceholders() {
        let yaml = minimal.replacingOccurrences(of: "params: [id]", with: "params: [id, body]")
        #expect(issues(yaml).first?.message == "the statement uses placeholders up to $1 but params lists 2 values")
        let quoted = minimal.replacingOccurrences(of: "VALUES ($1)", with: "VALUES ($1 || '$2')")
        #expect((try? load(quoted)) != nil)
        let badParam = minimal.replacingOccurrences(of: "params: [id]", with: "params: [\"jsn:/a\"]")
        #expect(issues(badParam).first?.message.contains("expected a parameter source") == true)
    }

    @Test func handlerKindsAreExclusive() {
        let yaml = minimal.replacingOccurrences(of: "      params: [id]", with: "      params: [id]\n      swift: Foo")
        #expect(issues(yaml).first?.message == "expected exactly one of sql, exec, plugin or swift, got sql and swift")
        let misplaced = minimal.replacingOccurrences(
            of: "      params: [id]", with: "      params: [id]\n      processes: 2")
        #expect(issues(misplaced).first?.message == "'processes' belongs to exec handlers, not to a sql handler")
    }

    @Test func handlerKindsParse() throws {
        let exec = minimal.replacingOccurrences(
            of: "      sql: \"INSERT INTO effects(id) VALUES ($1)\"\n      params: [id]",
            with: "      exec: python3 handler.py\n      processes: 3\n    dedup: {mode: lease}")
        guard case .exec(let settings) = try load(exec).consumers[0].handler.kind else {
            Issue.record("not exec")
            return
        }
        #expect(settings.command == ["python3 handler.py"])
        #expect(settings.processes == 3)
        let plugin = minimal.replacingOccurrences(
            of: "      sql: \"INSERT INTO effects(id) VALUES ($1)\"\n      params: [id]",
            with: "      plugin: /lib/x.so\n      config: {a: [1, \"two\", true], b: {c: null}}")
        #expect(
            try load(plugin).consumers[0].handler.kind
                == .plugin(path: "/lib/x.so", config: #"{"a":[1,"two",true],"b":{"c":null}}"#))
    }

    @Test func handlersOutsideTheTransactionDefaultToLeaseMode() throws {
        let sqlBlock = "      sql: \"INSERT INTO effects(id) VALUES ($1)\"\n      params: [id]"
        #expect(try load(minimal).consumers[0].dedup.mode == .transactional)
        let exec = minimal.replacingOccurrences(of: sqlBlock, with: "      exec: [python3, handler.py]")
        #expect(try load(exec).consumers[0].dedup.mode == .lease)
        let plugin = minimal.replacingOccurrences(of: sqlBlock, with: "      plugin: /lib/x.so")
        #expect(try load(plugin).consumers[0].dedup.mode == .lease)
        let pluginWithLeaseTime = minimal.replacingOccurrences(
            of: sqlBlock, with: "      plugin: /lib/x.so\n    dedup: {lease: 2m}")
        #expect(try load(pluginWithLeaseTime).consumers[0].dedup.mode == .lease)
        let explicit = minimal.replacingOccurrences(
            of: sqlBlock, with: "      exec: [python3, handler.py]\n    dedup: {mode: transactional}")
        #expect(try load(explicit).consumers[0].dedup.mode == .transactional)
        let swift = minimal.replacingOccurrences(of: sqlBlock, with: "      swift: record-order")
        #expect(try load(swift).consumers[0].dedup.mode == .transactional)
    }

    @Test func handlerConcurrency() throws {
        let sqlBlock = "      sql: \"INSERT INTO effects(id) VALUES ($1)\"\n      params: [id]"
        let exec = minimal.replacingOccurrences(
            of: sqlBlock, with: "      exec: [python3, handler.py]\n      processes: 3\n      in_flight: 8")
        #expect(try load(exec).consumers[0].handler.effectiveConcurrency == 24)
        let given = minimal.replacingOccurrences(
            of: sqlBlock, with: "      exec: [python3, handler.py]\n      concurrency: 5")
        #expect(try load(given).consumers[0].handler.effectiveConcurrency == 5)
        let bad = minimal.replacingOccurrences(of: sqlBlock, with: "      swift: x\n      concurrency: 0")
        let found = issues(bad).first
        #expect(found?.path.description.hasSuffix("handler.concurrency") == true, "\(String(describing: found))")
    }

    @Test func durationsAndSizes() throws {
        #expect(DurationParser.parse("250ms") == .milliseconds(250))
        #expect(DurationParser.parse("1.5s") == .milliseconds(1500))
        #expect(DurationParser.parse("7d") == .seconds(604_800))
        #expect(DurationParser.parse("5") == nil)
        #expect(DurationParser.parse("-1s") == nil)
        #expect(DurationParser.format(.seconds(300)) == "5m")
        #expect(ByteSizeParser.parse("16MiB") == 16 << 20)
        #expect(ByteSizeParser.parse("1_000") == 1000)
        #expect(ByteSizeParser.parse("1 GiB") == 1 << 30)
        #expect(ByteSizeParser.parse("lots") == nil)
        let yaml = minimal + "\n    batch: {max_wait: 10 seconds}\n"
        #expect(issues(yaml).first?.message.contains("expected a duration such as 250ms") == true)
    }

    @Test func batchesGrowUpToMaxSize() throws {
        let defaults = try load(minimal).consumers[0].batch
        #expect(defaults == BatchSettings(size: 100, maxSize: 1000, maxWait: .milliseconds(10)))
        #expect(defaults.limit == 1000)
        let large = try load(minimal + "\n    batch: {size: 2000}\n").consumers[0].batch
        #expect(large.limit == 2000, "a size above the default max_size is the limit")
        let set = try load(minimal + "\n    batch: {size: 50, max_size: 300}\n").consumers[0].batch
        #expect(set.limit == 300)
        let found = issues(minimal + "\n    batch: {size: 500, max_size: 200}\n")
        #expect(found.first?.message.contains("max_size (200) is smaller than size (500)") == true, "\(found)")
    }

    @Test func aBatchThatFilledRaisesTheNextTarget() {
        let batch = BatchSettings(size: 100, maxSize: 1000)
        #expect(batch.nextTarget(after: 100, target: 100) == 1000, "filled: a backlog")
        #expect(batch.nextTarget(after: 1000, target: 1000) == 1000, "still behind")
        #expect(batch.nextTarget(after: 400, target: 1000) == 100, "caught up")
        #expect(batch.nextTarget(after: 37, target: 100) == 100)
        #expect(BatchSettings(size: 500, maxSize: 200).nextTarget(after: 500, target: 500) == 500)
    }

    @Test func metricsListener() throws {
        #expect(try load(minimal).metrics == MetricsSettings(enabled: true, host: "127.0.0.1", port: 9464))
        let custom = try load(minimal + "\nmetrics:\n  listen: \"[::]:9100\"\n  enabled: false\n")
        #expect(custom.metrics == MetricsSettings(enabled: false, host: "::", port: 9100))
        #expect(custom.metrics.listen == "[::]:9100")
        let found = issues(minimal + "\nmetrics:\n  listen: 9464\n")
        #expect(found.count == 1)
        #expect(found.first?.path.description == "metrics.listen")
        #expect(found.first?.message.contains("expected host:port") == true)
        #expect(issues(minimal + "\nmetrics:\n  listen: 127.0.0.1:70000\n").first?.path.description == "metrics.listen")
    }

    @Test func sweeperSettings() throws {
        let defaults = try load(minimal).consumers[0].dedup
        #expect(defaults.sweepInterval == .seconds(60))
        #expect(defaults.sweepBatch == 1000)
        let yaml = minimal + "\n    dedup:\n      sweep_interval: 250ms\n      sweep_batch: 50\n"
        let dedup = try load(yaml).consumers[0].dedup
        #expect(dedup.sweepInterval == .milliseconds(250))
        #expect(dedup.sweepBatch == 50)
        #expect(
            issues(minimal + "\n    dedup:\n      sweep_batch: 0\n").first?.path.description
                == "consumers[0].dedup.sweep_batch")
    }

    @Test func duplicateConsumerNames() {
        let yaml = minimal + "\n" + minimal.components(separatedBy: "consumers:\n")[1]
        #expect(issues(yaml).contains { $0.message.contains("consumer name 'orders' is used twice") })
    }

    @Test func duplicateKeysAreRejected() {
        let found = issues(
            minimal.replacingOccurrences(of: "    queue: orders", with: "    queue: orders\n        queue: other"))
        #expect(found.first?.message.contains("appears more than once") == true)
    }

    @Test func emptyFileAndMissingFile() {
        #expect(issues("").first?.message.contains("the file is empty") == true)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(file: "/nonexistent/worker.yaml") }
    }

    @Test func kafkaManagedPropertiesAreRefused() {
        let yaml = """
            postgres: {url: "postgres://x@h/db"}
            consumers:
              - name: k
                source: {kafka: {brokers: "b:9092", topics: [t], group: g, properties: {group.id: other}}}
                handler: {swift: H}
            """
        #expect(issues(yaml).first?.message.contains("'group.id' is set by idem itself") == true)
    }

    @Test func retentionShorterThanRedeliveryHorizonWarns() throws {
        let yaml = minimal + "\n    dedup: {retention: 30m}\n"
        let warnings = ConfigWarnings.warnings(for: try load(yaml))
        #expect(
            warnings.contains {
                $0.contains("consumers.orders.dedup.retention (30m) is not longer than the redelivery horizon")
            })
        #expect(ConfigWarnings.warnings(for: try load(minimal)).isEmpty)
    }

    @Test func aPrefetchTooSmallForTheConcurrencyWarns() throws {
        let yaml = minimal.replacingOccurrences(of: "queue: orders", with: "queue: orders\n        prefetch: 150")
        let warnings = ConfigWarnings.warnings(for: try load(yaml))
        #expect(
            warnings.contains {
                $0.contains("consumers.orders.source.amqp.prefetch (150) is below batch.size × concurrency (100 × 4)")
            }, "\(warnings)")
        let single = yaml + "\n    concurrency: 1\n"
        #expect(ConfigWarnings.warnings(for: try load(single)).isEmpty)
    }

    @Test func redactionHidesPasswords() {
        #expect(Redaction.url("amqp://user:pa:ss@host:5672/%2F") == "amqp://user:***@host:5672/%2F")
        #expect(Redaction.url("postgres://user@host/db") == "postgres://user@host/db")
        #expect(Redaction.url("postgres://u:p@h/db?x=@") == "postgres://u:***@h/db?x=@")
    }

    @Test func keySuggestionDistance() {
        #expect(KeySuggestion.editDistance("retyr", "retry") == 1)
        #expect(KeySuggestion.nearest(to: "prefech", in: ["prefetch", "queue"]) == "prefetch")
        #expect(KeySuggestion.nearest(to: "xyz", in: ["prefetch", "queue"]) == nil)
    }
}
