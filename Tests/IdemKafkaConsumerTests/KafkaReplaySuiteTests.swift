import Foundation
import IdemKafka
import IdemTestSupport
import Testing

/// The replay suite on Kafka: `idem replay` produces the events corpus of `Tests/Corpus`,
/// `idem run` consumes it, and each distinct ID has its effect once, the rest is
/// dead-lettered with its reason, and every record is committed. It runs on a mock cluster
/// of its own, or on the cluster of `IDEM_TEST_KAFKA_BROKERS` with
/// `IDEM_TEST_KAFKA_EXTERNAL=1`.
@Suite("Replay suite: Kafka", .serialized)
struct KafkaReplaySuiteTests {
    @Test func theEventsCorpusHasEachEffectOnceAndDeadLettersTheRest() async throws {
        let world = try await KafkaWorld.make()
        let config = try world.config()
        try await world.migrate(config)
        let replay = try await IdemProcess.run([
            "replay", Corpus.path("events.jsonl"), "--to", "kafka://\(world.brokers)/\(world.topic)",
        ])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(
            replay.stdout.contains("sent 11 messages (6 distinct lines) to topic \(world.topic)"), "\(replay.stdout)")

        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let dead = try await world.deadLetters(count: 3, within: 60)
        try await world.eventually(60, "every record committed") {
            try await world.committedOffsets().values.filter { $0 > 0 }.reduce(0, +) == 11
        }
        let counts = try await world.effectCounts()
        #expect(counts.rows == 4, "\(worker.logText)")
        #expect(counts.distinct == 4)
        let effects = try await world.sql("SELECT id, body, source FROM \(world.effects) ORDER BY id").rows
        #expect(effects.map { $0[0] ?? "" } == ["ev-1", "ev-2", "ev-3", "ev-4"])
        // Records of one key keep their order: the first body of ev-3 took effect.
        #expect(effects[2][1] == "changed e-mail")
        #expect(effects[3][2]?.hasPrefix("\(world.topic):1:") == true, "\(effects[3])")

        let reasons = dead.map { record in
            record.headers.last { $0.key == "x-idem-reason" }.map { String(decoding: $0.value ?? [], as: UTF8.self) }
                ?? ""
        }
        #expect(reasons.sorted() == ["payload-conflict", "poison:no-id", "poison:no-id"], "\(reasons)")
        let conflict = try #require(
            dead.first { String(decoding: $0.value ?? [], as: UTF8.self).hasSuffix("another body") })
        #expect(conflict.key == Array("user-7".utf8))
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func aShuffledReplayStillHasEachEffectOnce() async throws {
        let world = try await KafkaWorld.make(partitions: 2)
        let config = try world.config()
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        // Produced while the worker consumes, in a shuffled order.
        let replay = try await IdemProcess.run([
            "replay", Corpus.path("events.jsonl"), "--to", "kafka://\(world.brokers)/\(world.topic)", "--shuffle",
            "--seed", "99", "--rate", "200",
        ])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("shuffled with seed 99"), "\(replay.stdout)")
        let dead = try await world.deadLetters(count: 3, within: 60)
        try await world.eventually(60, "every record committed") {
            try await world.committedOffsets().values.filter { $0 > 0 }.reduce(0, +) == 11
        }
        let counts = try await world.effectCounts()
        #expect(counts.rows == 4, "\(worker.logText)")
        #expect(counts.distinct == 4)
        #expect(dead.count == 3)
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }
}
