import Foundation
import IdemTestSupport
import Testing

/// `idem check-config` reading the retention of Kafka topics.
@Suite("check-config and Kafka topic retention")
struct CheckConfigKafkaTests {
    static func config(brokers: String, topic: String = "orders", id: String = "[key]") throws -> URL {
        try IdemProcess.temporaryFile(
            """
            postgres: {url: "postgres://idem@127.0.0.1:5432/idem"}
            consumers:
              - name: events
                source: {kafka: {brokers: "\(brokers)", topics: [\(topic)], group: g}}
                id: \(id)
                handler: {sql: "SELECT $1", params: [id]}
            """)
    }

    /// Runs check-config and how long it took.
    static func check(_ arguments: [String]) async throws -> (IdemProcess.Outcome, Double) {
        let started = Date()
        let outcome = try await IdemProcess.run(["check-config"] + arguments)
        return (outcome, Date().timeIntervalSince(started))
    }

    @Test func theMockClusterDoesNotDescribeConfigsWhichIsANoteNotAnError() async throws {
        let brokers = try ServiceEnvironment.kafkaBrokers()
        let file = try Self.config(brokers: brokers)
        let (outcome, seconds) = try await Self.check([file.path, "--strict"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.hasPrefix("\(file.path): OK"))
        #expect(
            outcome.stderr.contains(
                "note: the retention of Kafka topic orders at \(brokers) could not be read (DescribeConfigs (KIP-133) not supported by broker"
            ), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("check by hand that the dedup retention of events outlasts it"))
        #expect(!outcome.stderr.contains("warning:"))
        #expect(seconds < 10)
    }

    @Test func unreachableBrokersAreANoteWithinTheTimeout() async throws {
        let file = try Self.config(brokers: "127.0.0.1:1")
        let (outcome, seconds) = try await Self.check([file.path])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(
            outcome.stderr.contains(
                "note: the retention of Kafka topic orders at 127.0.0.1:1 could not be read (no broker of 127.0.0.1:1 answered within 3.0 seconds"
            ), "\(outcome.stderr)")
        // Nothing of librdkafka's own complaints.
        #expect(!outcome.stderr.contains("Connection refused"), "\(outcome.stderr)")
        // The check gives up after 3 s; the rest of the bound is for starting a process on a
        // loaded machine (without a timeout, librdkafka would wait for a minute and more).
        #expect(seconds >= 3 && seconds < 10)
    }

    @Test func offlineAsksNoBroker() async throws {
        let file = try Self.config(brokers: "127.0.0.1:1")
        let (outcome, _) = try await Self.check([file.path, "--offline"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        // Asking the unreachable broker would have ended in a note about the retention.
        #expect(!outcome.stderr.contains("retention"), "\(outcome.stderr)")
    }

    @Test func offsetModeConsumersNeedNoTopicRetention() async throws {
        let file = try Self.config(brokers: "127.0.0.1:1", id: "[offset]")
        let (outcome, _) = try await Self.check([file.path])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("retention"), "\(outcome.stderr)")
    }

    @Test func theLibrdkafkaInUseIsNamed() async throws {
        let file = try Self.config(brokers: "127.0.0.1:1")
        let (outcome, _) = try await Self.check([file.path, "--offline"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("client libraries: librdkafka "), "\(outcome.stdout)")
        // On a librdkafka older than the one idem is tested with, a note says what to do.
        let version = try #require(
            outcome.stdout.split(separator: "\n").first { $0.contains("client libraries:") }?
                .split(separator: " ").last.map(String.init))
        let parts = version.split(separator: ".").compactMap { Int($0) }
        let old = parts.count >= 2 && (parts[0], parts[1]) < (2, 16)
        #expect(outcome.stderr.contains("note: librdkafka \(version) is older than 2.16") == old, "\(outcome.stderr)")
    }
}
