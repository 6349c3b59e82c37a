import IdemKafka
import IdemKafkaMock
import IdemTestSupport
import Testing

/// Tests of ``KafkaMockCluster`` itself, started in this process.
@Suite("Kafka mock cluster in process")
struct KafkaMockClusterTests {
    let logger = makeTestLogger("idem.tests.kafka-mock")

    @Test("produce and consume through an in-process mock cluster, with commits")
    func roundTrip() async throws {
        let cluster = try await KafkaMockCluster.start(brokerCount: 1, logger: logger)
        #expect(cluster.bootstrapServers.hasPrefix("127.0.0.1:"))
        try await cluster.createTopic(name: "inproc", partitions: 1)
        let group = try await KafkaRoundTrip.run(
            bootstrapServers: cluster.bootstrapServers, topic: "inproc", logger: logger)

        // The commit is stored: a new member of the group starts after offset 2.
        let producer = try await KafkaProducer.make(
            bootstrapServers: cluster.bootstrapServers, logger: logger)
        let fourth = try await producer.produce(topic: "inproc", key: nil, value: Array("four".utf8))
        #expect(fourth.offset == 3)
        await producer.close()
        let consumer = try await KafkaConsumer.make(
            bootstrapServers: cluster.bootstrapServers, groupId: group, logger: logger)
        try await consumer.subscribe(topics: ["inproc"])
        var next: KafkaRecord?
        let deadline = ContinuousClock.now + .seconds(30)
        while next == nil, ContinuousClock.now < deadline {
            next = try await consumer.poll(timeout: .milliseconds(500))
        }
        #expect(next?.offset == 3)
        #expect(next?.key == nil)
        #expect(next?.value == Array("four".utf8))
        await consumer.close()
        await cluster.shutdown()
    }

    @Test("cluster operations report errors and a bad property is named")
    func errors() async throws {
        let cluster = try await KafkaMockCluster.start(brokerCount: 2, logger: logger)
        #expect(cluster.bootstrapServers.split(separator: ",").count == 2)
        try await cluster.createTopic(name: "twice", partitions: 2, replicationFactor: 2)
        let duplicate = await #expect(throws: KafkaError.self) {
            try await cluster.createTopic(name: "twice", partitions: 2)
        }
        #expect(duplicate?.kind == .mockCluster)
        #expect(duplicate?.codeName == "TOPIC_ALREADY_EXISTS")
        let tooMany = await #expect(throws: KafkaError.self) {
            try await cluster.createTopic(name: "wide", partitions: 1, replicationFactor: 3)
        }
        #expect(tooMany?.kind == .invalidArgument)
        // Taking a broker down and up again rebinds its port, which another test's socket
        // may hold meanwhile (librdkafka 2.0.2 then aborts): that runs in
        // IdemDisruptiveTests, alone.
        let noBroker = await #expect(throws: KafkaError.self) {
            try await cluster.setBrokerDown(3)
        }
        #expect(noBroker?.kind == .invalidArgument)

        let badProperty = await #expect(throws: KafkaError.self) {
            try await KafkaProducer.make(
                bootstrapServers: cluster.bootstrapServers,
                configuration: ["no.such.property": "1"], logger: logger)
        }
        #expect(badProperty?.kind == .configuration)
        #expect(badProperty?.property == "no.such.property")
        #expect(badProperty?.message.contains("'no.such.property'") == true)
        let badValue = await #expect(throws: KafkaError.self) {
            try await KafkaConsumer.make(
                bootstrapServers: cluster.bootstrapServers, groupId: "g",
                configuration: ["session.timeout.ms": "soon"], logger: logger)
        }
        #expect(badValue?.property == "session.timeout.ms")

        await cluster.shutdown()
        let closed = await #expect(throws: KafkaError.self) {
            try await cluster.createTopic(name: "late", partitions: 1)
        }
        #expect(closed?.kind == .closed)
        await cluster.shutdown()
    }

    @Test("the mock cluster creates a topic on first produce")
    func autoCreate() async throws {
        let cluster = try await KafkaMockCluster.start(logger: logger)
        let producer = try await KafkaProducer.make(
            bootstrapServers: cluster.bootstrapServers,
            configuration: ["message.timeout.ms": "10000"], logger: logger)
        let report = try await producer.produce(
            topic: "never-created", key: Array("k".utf8), value: Array("v".utf8))
        #expect(report.topic == "never-created")
        #expect(report.offset == 0)
        await producer.close()
        await cluster.shutdown()
    }
}
