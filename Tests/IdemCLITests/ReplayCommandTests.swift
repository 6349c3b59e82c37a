import Foundation
import IdemTestSupport
import Testing

/// `idem replay` without a broker: corpus errors, targets, `--dry-run` and `--shuffle`.
@Suite("idem replay: command line")
struct ReplayCommandTests {
    private let amqpTarget = ["--to", "amqp://guest:guest@127.0.0.1:5672/%2F", "--queue", "orders"]

    @Test func aBadLineNamesTheFileTheLineAndTheField() async throws {
        let corpus = try IdemProcess.temporaryFile(
            """
            {"message_id": "a", "body": "x"}

            {"message_id": "b", "properties": {"priority": "high"}}
            """, suffix: ".jsonl")
        let outcome = try await IdemProcess.run(["replay", corpus.path] + amqpTarget)
        #expect(outcome.status == 2)
        #expect(
            outcome.stderr.contains(
                "\(corpus.path):3: field 'properties.priority': expected a whole number from 0 to 255"),
            "\(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
    }

    @Test(arguments: [
        (#"{"times": 0}"#, "field 'times': expected a whole number from 1 to 10000"),
        (#"{"times": 2, "copies": 2}"#, "field 'copies': give either 'times' or 'copies'"),
        (#"{"partition": -1}"#, "field 'partition': expected a partition number"),
        (#"{"body": {"a": 1}}"#, "field 'body': expected a string"),
        (#"{"properties": {"colour": "red"}}"#, "unknown field 'properties.colour'"),
        (#"{"properties": {"timestamp": "yesterday"}}"#, "field 'properties.timestamp': expected seconds since 1970"),
        (#"{"bodyjson": {}}"#, "unknown field 'bodyjson'"),
        (#"["not", "an", "object"]"#, "expected a JSON object, got a array"),
    ])
    func everyFieldIsChecked(line: String, error: String) async throws {
        let corpus = try IdemProcess.temporaryFile(line + "\n", suffix: ".jsonl")
        let outcome = try await IdemProcess.run(["replay", corpus.path, "--dry-run"] + amqpTarget)
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("\(corpus.path):1: \(error)"), "\(outcome.stderr)")
    }

    @Test func anUnreachableBrokerIsExitOneWithThePasswordHidden() async throws {
        let corpus = try IdemProcess.temporaryFile(#"{"message_id": "a", "body": "x"}"# + "\n", suffix: ".jsonl")
        let outcome = try await IdemProcess.run([
            "replay", corpus.path, "--to", "amqp://replayer:s3cr3t-pw@127.0.0.1:1/%2F", "--queue", "orders",
        ])
        #expect(outcome.status == 1)
        #expect(
            outcome.stderr.contains("idem replay: queue orders at amqp://replayer:***@127.0.0.1:1/%2F"),
            "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("s3cr3t-pw"))
    }

    @Test(arguments: [
        (["--to", "amqp://guest:pw@127.0.0.1:5672/%2F"], "an AMQP target needs --queue NAME"),
        (["--to", "kafka://127.0.0.1:9092"], "expected kafka://host:port[,host:port]/TOPIC"),
        (["--to", "kafka://127.0.0.1:9092/a/b"], "expected one topic name"),
        (
            ["--to", "nats://127.0.0.1:4222/x"],
            "expected amqp[s]://user:password@host:port/vhost with --queue NAME, kafka://"
        ),
        (["--to", "consumer:missing", "--config", "/nonexistent/worker.yaml"], "/nonexistent/worker.yaml"),
        (["--to", "kafka://127.0.0.1:9092/t", "--seed", "3"], "--seed goes with --shuffle"),
        (["--to", "kafka://127.0.0.1:9092/t", "--rate=-1"], "--rate must be 0 or more"),
    ])
    func aBadTargetOrOptionIsExitTwo(arguments: [String], error: String) async throws {
        let corpus = try IdemProcess.temporaryFile(#"{"body": "x"}"# + "\n", suffix: ".jsonl")
        let outcome = try await IdemProcess.run(["replay", corpus.path] + arguments)
        #expect(outcome.status == 2, "\(outcome.stderr)")
        #expect(outcome.stderr.contains(error), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains(":pw@"))
    }

    @Test func aDryRunListsEveryCopyAndSendsNothing() async throws {
        let outcome = try await IdemProcess.run([
            "replay", Corpus.path("events.jsonl"), "--dry-run", "--to", "kafka://127.0.0.1:1/events",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 12)
        #expect(
            lines[0].hasPrefix("1: \(Corpus.path("events.jsonl")):1 copy 1 of 3, key \"user-7\", headers event-id=ev-1")
        )
        #expect(lines[10].contains(":6 copy 2 of 2, key -, partition 1, headers event-id=ev-4"), "\(lines[10])")
        #expect(lines[11] == "dry run: would send 11 messages (6 distinct lines) to topic events at 127.0.0.1:1")
    }

    @Test func aSeedGivesTheSameShuffleEveryTime() async throws {
        func order(_ extra: [String]) async throws -> [String] {
            let outcome = try await IdemProcess.run(
                ["replay", Corpus.path("orders.jsonl"), "--dry-run"] + amqpTarget + extra)
            #expect(outcome.status == 0, "\(outcome.stderr)")
            // Drop the running number: the order is what matters.
            return outcome.stdout.split(separator: "\n").dropLast().map { String($0.drop { $0 != " " }) }
        }
        let plain = try await order([])
        let first = try await order(["--shuffle", "--seed", "42"])
        let again = try await order(["--shuffle", "--seed", "42"])
        let other = try await order(["--shuffle", "--seed", "43"])
        #expect(plain.count == 14)
        #expect(first == again)
        #expect(first != plain)
        #expect(first != other)
        #expect(first.sorted() == plain.sorted())
    }

    @Test func aConsumerTargetTakesItsQueueFromTheConfiguration() async throws {
        let config = try IdemProcess.temporaryFile(minimalConfig)
        let outcome = try await IdemProcess.run([
            "replay", Corpus.path("orders.jsonl"), "--dry-run", "--to", "consumer:orders", "--config", config.path,
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(
            outcome.stdout.hasSuffix("to queue orders at amqp://guest:***@127.0.0.1:5672/%2F\n"), "\(outcome.stdout)")
        let unknown = try await IdemProcess.run([
            "replay", Corpus.path("orders.jsonl"), "--to", "consumer:payments", "--config", config.path,
        ])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no consumer named 'payments'"), "\(unknown.stderr)")
    }
}
