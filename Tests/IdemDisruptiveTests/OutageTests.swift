import Foundation
import IdemAMQP
import IdemKafka
import IdemKafkaMock
import IdemTestSupport
import Testing

/// Outages of the real services while `idem run` works. These stop and start the shared
/// test services, so `scripts/test.sh` runs this target on its own, after the others.
@Suite("Service outages", .serialized)
struct OutageTests {
    @Test func aMockKafkaBrokerGoesDownAndComesBack() async throws {
        let cluster = try await KafkaMockCluster.start(brokerCount: 2, logger: makeTestLogger("idem-outage"))
        try await cluster.setBrokerDown(2)
        try await cluster.setBrokerUp(2)
        await #expect(throws: KafkaError.self) { try await cluster.setBrokerDown(3) }
        let producer = try await KafkaProducer.make(
            bootstrapServers: cluster.bootstrapServers, configuration: ["message.timeout.ms": "10000"],
            logger: makeTestLogger("idem-outage"))
        let report = try await producer.produce(topic: "after-outage", key: Array("k".utf8), value: Array("v".utf8))
        #expect(report.topic == "after-outage")
        await producer.close()
        await cluster.shutdown()
    }

    @Test func rabbitMQRestartedWhileTheWorkerRuns() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config()
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.publish((0..<100).map { ("r\($0)", "r-\($0)", AMQPTable()) })
        try await world.eventually(30, "first 100 effects") { try await world.effectCounts().rows >= 100 }

        // The broker application stops (every connection is closed with 320
        // CONNECTION_FORCED) and starts again; queues and persistent messages survive.
        _ = try await RabbitControl.services(["rabbitmqctl", "stop_app"])
        _ = try await RabbitControl.services(["rabbitmqctl", "start_app"])
        _ = try await RabbitControl.services(["rabbitmqctl", "await_startup"])
        try await world.publish((100..<200).map { ("r\($0)", "r-\($0)", AMQPTable()) })
        try await world.eventually(60, "200 effects") {
            let rows = try await world.effectCounts().rows
            let depth = try await world.queueDepth()
            return rows >= 200 && depth == 0
        }
        let counts = try await world.effectCounts()
        #expect(counts.rows == 200, "\(worker.logText)")
        #expect(counts.distinct == 200)
        #expect(worker.logText.contains("reconnecting"))
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func postgresDownStopsConsumptionAcksNothingAndResumes() async throws {
        let world = try await AMQPWorld.make()
        let config = try world.config()
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        let endpoint = try await OperationsEndpoint.of(worker)
        try await world.publish((0..<50).map { ("p\($0)", "p-\($0)", AMQPTable()) })
        try await world.eventually(30, "first 50 effects") { try await world.effectCounts().rows >= 50 }
        try await endpoint.waitForReadiness(true, worker: worker)

        _ = try await RabbitControl.services(["stop", "postgres"])
        do {
            // /readyz turns not ready, naming PostgreSQL; /healthz stays up.
            let readiness = try await endpoint.waitForReadiness(false, worker: worker)
            #expect(readiness.contains("postgres: down"), "\(readiness)")
            #expect(try await endpoint.get("/healthz").status == 200)
            try await world.publish((50..<100).map { ("p\($0)", "p-\($0)", AMQPTable()) })
            // Nothing is acked while PostgreSQL is down: the worker hands back what it
            // held, and the 50 new messages wait in the queue.
            try await world.eventually(30, "the 50 messages back in the queue") { try await world.queueDepth() == 50 }
            try await Task.sleep(for: .seconds(1))
            #expect(try await world.queueDepth() == 50, "\(worker.logText)")
            #expect(worker.logText.contains("PostgreSQL unavailable"))
        } catch {
            _ = try? await RabbitControl.services(["start", "postgres"])
            throw error
        }
        _ = try await RabbitControl.services(["start", "postgres"])

        try await world.eventually(60, "100 effects") {
            let rows = try await world.effectCounts().rows
            let depth = try await world.queueDepth()
            return rows >= 100 && depth == 0
        }
        let counts = try await world.effectCounts()
        #expect(counts.rows == 100)
        #expect(counts.distinct == 100)
        #expect(worker.logText.contains("resuming consumption"))
        try await endpoint.waitForReadiness(true, worker: worker)
        #expect(
            try await endpoint.sample("idem_reconnects_total", "consumer=\"\(world.name)\",service=\"postgres\"") == 1)
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test(
        .enabled(
            if: KafkaWorld.usesMockCluster,
            "stops and starts a broker with the mock cluster's fault injection (IDEM_TEST_KAFKA_EXTERNAL=1)"))
    func theKafkaBrokerGoesDownWhileTheWorkerRunsAndComesBack() async throws {
        let world = try await KafkaWorld.make(partitions: 2)
        let cluster = try #require(world.cluster)
        let config = try world.config()
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.produce((0..<100).map { (nil, "b\($0)", ["event-id": "b-\($0)"]) })
        try await world.eventually(60, "first 100 effects") { try await world.effectCounts().rows >= 100 }

        let endpoint = try await OperationsEndpoint.of(worker)
        try await endpoint.waitForReadiness(true, worker: worker)
        try await cluster.setBrokerDown(1)
        // /readyz turns not ready while the only broker is down.
        let readiness = try await endpoint.waitForReadiness(false, worker: worker)
        #expect(readiness.contains("every Kafka broker is down"), "\(readiness)")
        try await cluster.setBrokerUp(1)
        try await world.produce((100..<200).map { (nil, "b\($0)", ["event-id": "b-\($0)"]) })
        try await world.eventually(90, "200 effects") { try await world.effectCounts().rows >= 200 }
        try await endpoint.waitForReadiness(true, worker: worker)
        try await Task.sleep(for: .seconds(1))
        let counts = try await world.effectCounts()
        #expect(counts.rows == 200, "\(worker.logText)")
        #expect(counts.distinct == 200)
        #expect(try await worker.stop() == 0)
        try await world.cleanUp()
    }

    @Test func postgresDownPausesEveryKafkaPartitionCommitsNothingAndResumes() async throws {
        let world = try await KafkaWorld.make(partitions: 3)
        let config = try world.config()
        try await world.migrate(config)
        let worker = try WorkerProcess(config: config)
        try await worker.waitUntilConsuming()
        try await world.produce((0..<60).map { (nil, "p\($0)", ["event-id": "p-\($0)"]) })
        try await world.eventually(60, "first 60 effects") { try await world.effectCounts().rows >= 60 }
        try await world.eventually(30, "the first offsets committed") {
            try await world.committedOffsets().values.reduce(0, +) == 60
        }

        _ = try await RabbitControl.services(["stop", "postgres"])
        do {
            try await world.produce((60..<120).map { (nil, "p\($0)", ["event-id": "p-\($0)"]) })
            try await world.eventually(30, "the worker to notice") { worker.logText.contains("PostgreSQL unavailable") }
            try await Task.sleep(for: .seconds(2))
            // Nothing is committed while PostgreSQL is down.
            #expect(try await world.committedOffsets().values.reduce(0, +) == 60, "\(worker.logText)")
        } catch {
            _ = try? await RabbitControl.services(["start", "postgres"])
            throw error
        }
        _ = try await RabbitControl.services(["start", "postgres"])

        try await world.eventually(90, "120 effects") { try await world.effectCounts().rows >= 120 }
        try await Task.sleep(for: .seconds(1))
        let counts = try await world.effectCounts()
        #expect(counts.rows == 120, "\(worker.logText)")
        #expect(counts.distinct == 120)
        #expect(worker.logText.contains("resuming consumption"))
        #expect(try await worker.stop() == 0)
        #expect(try await world.committedOffsets().values.reduce(0, +) == 120)
        try await world.cleanUp()
    }
}
