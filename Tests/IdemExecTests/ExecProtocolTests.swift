import Foundation
import IdemCore
import Testing

@testable import IdemExec

@Suite("Exec protocol")
struct ExecProtocolTests {
    @Test func requestsPutTheIDFirstAndEscapeText() throws {
        let message = Message(
            body: Array("line one\n\"quoted\" \\ tab\t bell\u{07} é".utf8), headers: ["h": .string("v")],
            source: MessageSource(kind: "amqp", description: "amqp:orders", features: .messageIDProperty))
        let context = HandlerContext(
            consumer: "billing", id: MessageID("id \"1\"", source: .messageId), fence: 3, attempt: 1,
            transaction: nil)
        let line = ExecRequestEncoder.encode(message, context: context)
        #expect(line.last == UInt8(ascii: "\n"))
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.hasPrefix(#"{"id":"id \"1\"","#))
        #expect(!text.dropLast().contains("\n"))
        let request = try JSONValue(parsing: line.dropLast())
        #expect(request[member: "body"] == .string("line one\n\"quoted\" \\ tab\t bell\u{07} é"))
        #expect(request[member: "body_base64"] == nil)
        #expect(request[member: "headers"] == .object([("h", .string("v"))]))
        #expect(request[member: "headers_base64"] == nil)
        #expect(request[member: "key"] == nil)
        #expect(request[member: "source"] == .string("amqp:orders"))
        #expect(request[member: "traceparent"] == nil, "no trace context, no member")
    }

    @Test func aTraceContextIsGivenAsMembersOfItsOwn() throws {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let context = HandlerContext(
            consumer: "billing", id: MessageID("t", source: .messageId), fence: 1, attempt: 1, transaction: nil)
        func request(_ headers: [String: HeaderValue]) throws -> JSONValue {
            let message = Message(
                body: [], headers: headers, source: MessageSource(kind: "amqp", description: "amqp:orders"))
            return try JSONValue(parsing: ExecRequestEncoder.encode(message, context: context).dropLast())
        }
        let traced = try request([
            "traceparent": .bytes(Array(parent.utf8)), "tracestate": .string("congo=t61rcWkgMzE"),
        ])
        #expect(traced[member: "traceparent"] == .string(parent))
        #expect(traced[member: "tracestate"] == .string("congo=t61rcWkgMzE"))
        let invalid = try request(["traceparent": .string("00-bad"), "tracestate": .string("congo=t61rcWkgMzE")])
        #expect(invalid[member: "traceparent"] == nil)
        #expect(invalid[member: "tracestate"] == nil)
    }

    @Test func responsesAreParsedStrictly() throws {
        func parse(_ text: String) throws(ExecProtocolError) -> ExecResponse {
            var bytes = Array(text.utf8)
            return try bytes.withUnsafeMutableBufferPointer { buffer throws(ExecProtocolError) in
                try ExecResponse(parsing: UnsafeBufferPointer(buffer))
            }
        }
        #expect(try parse(#"{"id":"a","result":"ok"}"#) == ExecResponse(id: "a", result: .success))
        #expect(
            try parse(#"{"id":"a","result":"retry","error":"later"}"#) == ExecResponse(id: "a", result: .retry("later"))
        )
        #expect(
            try parse(#"{"result":"reject","id":"a","error":null}"#)
                == ExecResponse(id: "a", result: .reject("exec handler rejected the message")))
        for invalid in [
            "nope", "[1]", #"{"result":"ok"}"#, #"{"id":1,"result":"ok"}"#, #"{"id":"a"}"#,
            #"{"id":"a","result":"fine"}"#, #"{"id":"a","result":"ok","error":5}"#,
        ] {
            #expect(throws: ExecProtocolError.self) { try parse(invalid) }
        }
    }

    @Test func base64MatchesFoundation() {
        for length in 0..<12 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 200) }
            #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString())
        }
    }

    @Test func linesAreSplitAcrossChunks() {
        var buffer = ExecLineBuffer(limit: 100)
        var lines: [String] = []
        for chunk in ["ab", "c\nde", "f\n\ng", "h\n"] {
            Array(chunk.utf8).withUnsafeBufferPointer { bytes in
                buffer.split(bytes) { line in
                    lines.append(String(decoding: line, as: UTF8.self))
                    return true
                }
            }
        }
        #expect(lines == ["abc", "def", "", "gh"])
        #expect(buffer.takePartial() == nil)
    }
}
