import Foundation
import IdemTestSupport
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

let minimalConfig = """
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

@Suite("Command line")
struct CLITests {
    @Test func version() async throws {
        let outcome = try await IdemProcess.run(["--version"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }

    @Test func checkConfigAcceptsTheExample() async throws {
        let path = repositoryRoot.appendingPathComponent("worker.yaml.example").path
        let outcome = try await IdemProcess.run(["check-config", path], environment: [:])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.hasPrefix("\(path): OK"))
        // Passwords are never printed.
        #expect(!outcome.stdout.contains("guest:guest"))
    }

    @Test func checkConfigShowsWhereSpansGo() async throws {
        let off = try await IdemProcess.run(["check-config", try IdemProcess.temporaryFile(minimalConfig).path])
        #expect(off.stdout.contains("  spans: off (trace context is still passed to handlers)"), "\(off.stdout)")
        let file = try IdemProcess.temporaryFile(
            minimalConfig
                + "\ntracing: {enabled: true, endpoint: \"https://otel:secret@collector.example:4318/v1/traces\", encoding: json, sample_ratio: 0.5}\n"
        )
        let on = try await IdemProcess.run(["check-config", file.path])
        #expect(on.status == 0, "\(on.stderr)")
        #expect(
            on.stdout.contains(
                "  spans: OTLP/HTTP json to https://otel:***@collector.example:4318/v1/traces, service idem, sampling 0.5 of new traces"
            ), "\(on.stdout)")
        #expect(!on.stdout.contains("secret"))
    }

    @Test func checkConfigReportsEveryProblemWithExit2() async throws {
        let file = try IdemProcess.temporaryFile(
            minimalConfig.replacingOccurrences(of: "queue: orders", with: "queue: orders\n        prefech: 10")
                + "\n    retry: {max_attempts: many}\n")
        let outcome = try await IdemProcess.run(["check-config", file.path])
        #expect(outcome.status == 2)
        let lines = outcome.stderr.split(separator: "\n").map(String.init)
        #expect(
            lines.contains(
                "\(file.path):9:9: consumers[0].source.amqp.prefech: unknown key 'prefech'; did you mean 'prefetch'?"))
        #expect(
            lines.contains {
                $0.hasPrefix("\(file.path):13:")
                    && $0.contains("consumers[0].retry.max_attempts: expected a whole number")
            })
        #expect(lines.last == "2 problems in the configuration")
        #expect(outcome.stdout.isEmpty)
    }

    @Test func aKafkaPropertyLibrdkafkaRefusesIsAConfigErrorNamingIt() async throws {
        let file = try IdemProcess.temporaryFile(
            """
            postgres: {url: "postgres://idem@127.0.0.1:5432/idem"}
            consumers:
              - name: events
                source:
                  kafka:
                    brokers: 127.0.0.1:9092
                    topics: [events]
                    group: g
                    properties:
                      client.id: fine
                      fetch.wait.max.ms: "soon"
                      no.such.property: "1"
                id: [key]
                handler: {sql: "SELECT $1", params: [id]}
            """)
        let outcome = try await IdemProcess.run(["check-config", file.path])
        #expect(outcome.status == 2)
        let lines = outcome.stderr.split(separator: "\n").map(String.init)
        #expect(
            lines.contains {
                $0.hasPrefix("\(file.path):11:")
                    && $0.contains("consumers[0].source.kafka.properties.fetch.wait.max.ms: librdkafka refuses it")
            }, "\(lines)")
        #expect(
            lines.contains {
                $0.hasPrefix("\(file.path):12:")
                    && $0.contains(
                        "consumers[0].source.kafka.properties.no.such.property: librdkafka refuses it: No such configuration property"
                    )
            }, "\(lines)")
        #expect(lines.last == "2 problems in the configuration")
    }

    @Test func brokenYAMLIsExit2() async throws {
        let file = try IdemProcess.temporaryFile("postgres: {url: x\nconsumers: [\n")
        let outcome = try await IdemProcess.run(["check-config", file.path])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("invalid YAML"))
    }

    @Test func unsetEnvironmentVariableIsExit2() async throws {
        let file = try IdemProcess.temporaryFile(
            minimalConfig.replacingOccurrences(of: "idem@", with: "idem:${IDEM_TEST_UNSET_PW}@"))
        let outcome = try await IdemProcess.run(["check-config", file.path], environment: [:])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("postgres.url: environment variable IDEM_TEST_UNSET_PW is not set"))
    }

    @Test func missingFileIsExit2() async throws {
        let outcome = try await IdemProcess.run(["check-config", "/nonexistent/worker.yaml"])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("/nonexistent/worker.yaml: the configuration file does not exist"))
    }

    @Test(arguments: [
        ["frobnicate"], ["run", "--no-such-flag"], ["run", "--grace-period", "soon"], ["check-config", "a", "b"],
    ])
    func usageErrorsAreExit2(arguments: [String]) async throws {
        let outcome = try await IdemProcess.run(arguments)
        #expect(outcome.status == 2, "\(arguments): \(outcome.stderr)")
        #expect(!outcome.stderr.isEmpty)
    }

    @Test func runRefusesABadConfigBeforeConnecting() async throws {
        let file = try IdemProcess.temporaryFile("postgres: {url: 'postgres://h/db'}\nconsumers: []\n")
        let outcome = try await IdemProcess.run(["run", "--config", file.path])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("consumers: expected at least one consumer"))
    }

    @Test func deriveIDShowsIDsAndPoison() async throws {
        let config = try IdemProcess.temporaryFile(minimalConfig + "\n    id: [message_id, {json: /order/id}]\n")
        let samples = try IdemProcess.temporaryFile(
            """
            {"message_id": "m-1", "body": "x"}
            {"body_json": {"order": {"id": 1001}}}
            {"body": "not json"}
            """, suffix: ".jsonl")
        let outcome = try await IdemProcess.run(["derive-id", "--config", config.path, samples.path])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasSuffix(":1: id \"m-1\" from message_id"))
        #expect(lines[1].hasSuffix(":2: id \"1001\" from json: /order/id"))
        #expect(lines[2].contains(":3: poison [poison:no-id]"))
    }
}
