import Foundation
import IdemAMQP
import IdemTestSupport
import Testing

/// What `idem run` logs: JSON lines with the consumer, message ID and source in their
/// metadata, and never a secret.
@Suite("Logging", .serialized)
struct LoggingTests {
    @Test func jsonLinesCarryTheMessageContextAndNoSecret() async throws {
        let world = try await AMQPWorld.make()
        // A RabbitMQ user of its own, whose password comes from the environment.
        let user = "u_\(world.name)"
        let password = "pw-\(UUID().uuidString)"
        _ = try await RabbitControl.services(["rabbitmqctl", "add_user", user, password])
        _ = try await RabbitControl.services(["rabbitmqctl", "set_permissions", "-p", "/", user, ".*", ".*", ".*"])
        defer { Task { _ = try? await RabbitControl.services(["rabbitmqctl", "delete_user", user]) } }
        let amqpURL = try #require(URL(string: world.amqpURL))
        let secretURL = "amqp://\(user):${IDEM_TEST_SECRET}@\(amqpURL.host!):\(amqpURL.port!)/%2F"
        let postgresURL = world.postgresURL.replacingOccurrences(
            of: "postgres://postgres@", with: "postgres://postgres:${IDEM_TEST_SECRET}@")
        try #require(postgresURL != world.postgresURL)
        let base = try String(contentsOf: try world.config(id: "[{json: /id}]"), encoding: .utf8)
        let yaml = base.replacingOccurrences(
            of: "logging: {level: info}", with: "logging: {level: debug, format: json}"
        )
        .replacingOccurrences(of: world.amqpURL, with: secretURL)
        .replacingOccurrences(of: world.postgresURL, with: postgresURL)
        let config = try IdemProcess.temporaryFile(yaml)
        try await world.migrate(try world.config())
        let worker = try WorkerProcess(config: config, environment: ["IDEM_TEST_SECRET": password])
        try await worker.waitUntilConsuming()
        try await world.publish([(#"{"id": "fine"}"#, nil, AMQPTable()), ("no json", nil, AMQPTable())])
        try await world.eventually(30, "an effect and a dead letter") {
            let rows = try await world.effectCounts().rows
            let dead = try await world.queueDepth(world.deadLetterQueue)
            return rows == 1 && dead == 1
        }
        #expect(try await worker.stop() == 0)

        let lines = worker.logText.split(separator: "\n")
        #expect(lines.count > 3)
        var objects: [[String: Any]] = []
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)")
            if let object { objects.append(object) }
        }
        #expect(objects.allSatisfy { $0["ts"] is String && $0["level"] is String && $0["msg"] is String })
        let deadLettered = objects.first { ($0["msg"] as? String)?.hasPrefix("dead-lettered") == true }
        #expect(deadLettered?["consumer"] as? String == world.name, "\(worker.logText)")
        #expect(deadLettered?["source"] as? String == "amqp:\(world.queue)")
        #expect(deadLettered?["reason"] as? String == "poison:no-id")
        #expect(!worker.logText.contains(password), "a secret was logged")
        try await world.cleanUp()
    }
}
