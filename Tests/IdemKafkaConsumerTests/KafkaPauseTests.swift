import Foundation
import IdemTestSupport
import Testing

/// Pausing and resuming a Kafka consumer through the admin API.
@Suite("Kafka: pause and resume", .serialized)
struct KafkaPauseTests {
    @Test func aPausedConsumerStaysInItsGroupTakesNothingAndResumesWithEachEffectOnce() async throws {
        let world = try await KafkaWorld.make(partitions: 4)
        let token = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        // A member that stops polling for max.poll.interval.ms leaves its group: a pause
        // must keep polling.
        let config = try world.config(
            extraProperties: ", max.poll.interval.ms: \"7000\"",
            extra: "admin: {enabled: true, listen: metrics, token: \(token)}", handlerTimeout: "5s")
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let endpoint = try await OperationsEndpoint.of(worker)
        try await world.produce((0..<100).map { (nil, "before \($0)", ["event-id": "b-\($0)"]) })
        try await world.eventually(30, "100 effects") { try await world.effectCounts().rows == 100 }

        let pause = try await endpoint.get("/admin/consumers/\(world.name)/pause", method: "POST", token: token)
        #expect(pause.status == 200, "\(pause.body)")
        #expect(pause.body.contains("\"changed\":true"))
        try await world.eventually(10, "the pause logged") { worker.logText.contains("paused by an operator") }
        try await world.produce((0..<100).map { (nil, "paused \($0)", ["event-id": "p-\($0)"]) })
        try await Task.sleep(for: .seconds(9))
        #expect(try await world.effectCounts().rows == 100, "nothing is processed while paused")
        try await world.eventually(15, "a lag of 100 while paused") {
            let listing = try await endpoint.get("/admin/consumers", token: token).body
            return listing.contains("\"lag\":100") && listing.contains("\"paused\":true")
        }
        #expect(!worker.logText.contains("partitions revoked"), "the member stayed in its group: \(worker.logText)")

        let resume = try await endpoint.get("/admin/consumers/\(world.name)/resume", method: "POST", token: token)
        #expect(resume.status == 200, "\(resume.body)")
        try await world.eventually(30, "200 effects") { try await world.effectCounts().rows == 200 }
        #expect(try await world.effectCounts().distinct == 200)
        try await world.eventually(15, "no lag") {
            try await endpoint.get("/admin/consumers", token: token).body.contains("\"lag\":0")
        }
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }
}
