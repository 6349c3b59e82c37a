import Testing

@testable import IdemCore

/// The W3C Trace Context of a message: read from its headers when valid, ignored otherwise.
@Suite("Message trace context")
struct MessageTraceTests {
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    func message(_ headers: [String: HeaderValue]) -> Message {
        Message(body: [], headers: headers, source: MessageSource(kind: "amqp", description: "amqp:q"))
    }

    @Test func aValidTraceparentIsReadWithItsStateAnyCaseAndAsBytes() throws {
        let trace = try #require(
            message(["Traceparent": .string(parent), "tracestate": .string("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")])
                .trace)
        #expect(trace.traceparent == parent)
        #expect(trace.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.parentID == "00f067aa0ba902b7")
        #expect(trace.sampled)
        #expect(trace.tracestate == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        // Kafka headers are bytes.
        let fromBytes = try #require(message(["traceparent": .bytes(Array(parent.utf8))]).trace)
        #expect(fromBytes.traceID == trace.traceID)
        let unsampled = try #require(
            message(["traceparent": .string("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")]).trace)
        #expect(!unsampled.sampled)
        #expect(unsampled.tracestate == nil)
    }

    @Test func anInvalidTraceparentIsIgnoredAndTakesItsStateWithIt() {
        for bad in [
            "", "garbage", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            #expect(message(["traceparent": .string(bad), "tracestate": .string("a=b")]).trace == nil, "\(bad)")
        }
        #expect(message(["tracestate": .string("a=b")]).trace == nil)
        #expect(message([:]).trace == nil)
    }
}
