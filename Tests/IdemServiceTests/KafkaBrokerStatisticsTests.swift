import Testing

@testable import IdemKafka

/// Reading broker states from librdkafka's statistics JSON, for `/readyz`.
@Suite("Kafka broker statistics")
struct KafkaBrokerStatisticsTests {
    static func brokers(_ entries: [(source: String, state: String)]) -> String {
        let objects = entries.enumerated().map { index, entry in
            #""b\#(index)": {"name":"b\#(index)","nodeid":\#(index),"nodename":"h:\#(index)","source":"\#(entry.source)","state":"\#(entry.state)","stateage":12,"toppars":{"t-0":{"topic":"t","partition":0}}}"#
        }
        return
            #"{"name":"idem#consumer-1","type":"consumer","brokers":{\#(objects.joined(separator: ","))},"topics":{"t":{"partitions":{"0":{"fetch_state":"active"}}}},"cgrp":{"state":"up","join_state":"steady"}}"#
    }

    static func anyUp(_ json: String) -> Bool? {
        var bytes = Array(json.utf8)
        return bytes.withUnsafeMutableBytes { KafkaBrokerStatistics.anyBrokerUp(UnsafeRawBufferPointer($0)) }
    }

    @Test func aLearnedOrConfiguredBrokerUpCounts() {
        #expect(Self.anyUp(Self.brokers([("internal", "UP"), ("configured", "INIT"), ("learned", "UP")])) == true)
        #expect(Self.anyUp(Self.brokers([("configured", "UP")])) == true)
    }

    @Test func onlyTheInternalBrokerUpIsDown() {
        #expect(
            Self.anyUp(Self.brokers([("internal", "UP"), ("learned", "DOWN"), ("configured", "CONNECT")])) == false)
        // The consumer group's lowercase "up" is not a broker state.
        #expect(Self.anyUp(Self.brokers([("learned", "TRY_CONNECT")])) == false)
    }

    @Test func noBrokersIsUnknown() {
        #expect(Self.anyUp(Self.brokers([])) == nil)
        #expect(Self.anyUp(Self.brokers([("internal", "UP")])) == nil)
        #expect(Self.anyUp("") == nil)
    }
}
