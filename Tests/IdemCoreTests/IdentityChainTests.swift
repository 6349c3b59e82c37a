import Testing

@testable import IdemCore

private func amqp(
    _ body: String = "{}", messageId: String? = nil, headers: [String: HeaderValue] = [:]
) -> Message {
    Message(
        body: Array(body.utf8), headers: headers, properties: MessageProperties(messageId: messageId),
        source: MessageSource(kind: "amqp", description: "amqp:orders", features: .messageIDProperty))
}

private func kafka(
    _ body: [UInt8] = [], key: [UInt8]? = nil, headers: [String: HeaderValue] = [:], offset: Int64 = 42
) -> Message {
    Message(
        body: body, headers: headers, key: key,
        source: MessageSource(
            kind: "kafka", position: LogPosition(stream: "events", lane: 3, offset: offset), features: .recordKey))
}

private func id(_ derivation: IdentityChain.Derivation) -> MessageID? {
    if case .identified(let id) = derivation { return id }
    return nil
}

private func poison(_ derivation: IdentityChain.Derivation) -> PoisonReason? {
    if case .poison(let reason) = derivation { return reason }
    return nil
}

@Suite("ID sources")
struct IDSourceTests {
    @Test func messageIdProperty() {
        let derived = id(IdentityChain([.messageId]).derive(amqp(messageId: "m-1")))
        #expect(derived == MessageID("m-1", source: .messageId))
    }

    @Test func headerString() {
        let chain = IdentityChain([.header("X-Request-Id")])
        #expect(id(chain.derive(amqp(headers: ["X-Request-Id": .string("r-9")])))?.value == "r-9")
    }

    @Test(arguments: [
        (HeaderValue.int(-42), "-42"),
        (.uint(18_446_744_073_709_551_615), "18446744073709551615"),
        (.bool(true), "true"),
        (.double(1.5), "1.5"),
        (.decimal(scale: 2, value: 12345), "123.45"),
        (.decimal(scale: 3, value: -5), "-0.005"),
        (.decimal(scale: 0, value: 7), "7"),
        (.timestamp(1_700_000_000), "1700000000"),
        (.bytes(Array("abc".utf8)), "abc"),
        (.string("é✓"), "é✓"),
    ])
    func amqpHeaderValueTypes(value: HeaderValue, expected: String) {
        let chain = IdentityChain([.header("h")])
        #expect(id(chain.derive(amqp(headers: ["h": value])))?.value == expected)
    }

    @Test(arguments: [
        HeaderValue.array([.string("a")]), .table(["a": .int(1)]), .void, .bytes([0xff, 0xfe]),
        .bytes([0x61, 0x00]), .string(""), .double(.nan),
    ])
    func headerValuesThatAreNoID(value: HeaderValue) {
        let chain = IdentityChain([.header("h"), .contentHash])
        let derived = id(chain.derive(amqp("x", headers: ["h": value])))
        #expect(derived?.source == .contentHash)
    }

    @Test func kafkaHeaderBytes() {
        let chain = IdentityChain([.header("event-id")])
        let message = kafka(headers: ["event-id": .bytes(Array("ev-7".utf8))])
        #expect(id(chain.derive(message)) == MessageID("ev-7", source: .header("event-id")))
    }

    @Test func kafkaKey() {
        #expect(id(IdentityChain([.key]).derive(kafka(key: Array("user-1".utf8))))?.value == "user-1")
    }

    @Test func nonUTF8KeyFallsThrough() {
        let chain = IdentityChain([.key, .offset])
        #expect(id(chain.derive(kafka(key: [0xc3, 0x28])))?.source == .offset)
    }

    @Test func offsetIsTopicPartitionOffset() {
        #expect(id(IdentityChain([.offset]).derive(kafka(offset: 1234)))?.value == "events:3:1234")
    }

    @Test func offsetAndKeyYieldNothingForAMQP() {
        let reason = poison(IdentityChain([.offset, .key]).derive(amqp()))
        #expect(
            reason
                == .noIdentity(notes: [
                    "offset: amqp messages have no log position", "key: amqp messages have no record key",
                ]))
    }

    @Test func messageIdYieldsNothingForKafka() {
        #expect(poison(IdentityChain([.messageId]).derive(kafka())) != nil)
    }

    @Test func jsonField() throws {
        let chain = IdentityChain([.json(try JSONPointer("/order/id"))])
        #expect(id(chain.derive(amqp(#"{"order":{"id":"ord-1001"}}"#)))?.value == "ord-1001")
    }

    @Test func jsonNumberKeepsItsText() throws {
        let chain = IdentityChain([.json(try JSONPointer("/n"))])
        #expect(id(chain.derive(amqp(#"{"n": 9007199254740993}"#)))?.value == "9007199254740993")
        #expect(id(chain.derive(amqp(#"{"n": 1.50}"#)))?.value == "1.50")
    }

    @Test func jsonPointerEscapes() throws {
        let body = #"{"a/b": {"m~n": "escaped"}, "": {"": "empty names"}}"#
        #expect(id(IdentityChain([.json(try JSONPointer("/a~1b/m~0n"))]).derive(amqp(body)))?.value == "escaped")
        #expect(id(IdentityChain([.json(try JSONPointer("//"))]).derive(amqp(body)))?.value == "empty names")
    }

    @Test func jsonArrayIndex() throws {
        let chain = IdentityChain([.json(try JSONPointer("/items/1/sku"))])
        #expect(id(chain.derive(amqp(#"{"items":[{"sku":"a"},{"sku":"b"}]}"#)))?.value == "b")
    }

    @Test func contentHashOfNonUTF8Body() {
        let body: [UInt8] = [0xff, 0x00, 0xfe, 0x80]
        let derived = id(IdentityChain([.contentHash]).derive(kafka(body)))
        // sha256 of ff 00 fe 80, computed independently with `printf '\xff\x00\xfe\x80' | sha256sum`.
        #expect(derived?.value == "12bd5eeba3a92e35c41611e24d7756eb39442699403e1aad28bd56443f2dfc86")
    }

    @Test func contentHashKnownVector() {
        #expect(
            IdentityChain.sha256Hex(Array("abc".utf8))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            IdentityChain.sha256Hex([])
                == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}

@Suite("ID chain fallbacks and poison")
struct IDChainTests {
    @Test func firstSourceThatYieldsWins() throws {
        let chain = IdentityChain([.messageId, .header("X-Id"), .json(try JSONPointer("/id")), .contentHash])
        #expect(
            id(chain.derive(amqp(#"{"id":"j"}"#, messageId: "m", headers: ["X-Id": .string("h")])))?.source
                == .messageId)
        #expect(id(chain.derive(amqp(#"{"id":"j"}"#, headers: ["X-Id": .string("h")])))?.source == .header("X-Id"))
        #expect(id(chain.derive(amqp(#"{"id":"j"}"#)))?.source == .json(try JSONPointer("/id")))
        #expect(id(chain.derive(amqp("not json")))?.source == .contentHash)
    }

    @Test func emptyMessageIdFallsThrough() {
        let chain = IdentityChain([.messageId, .contentHash])
        #expect(id(chain.derive(amqp(messageId: "")))?.source == .contentHash)
    }

    @Test func noSourceYieldsIsPoisonWithEveryReason() throws {
        let chain = IdentityChain([.messageId, .header("X-Id"), .json(try JSONPointer("/id"))])
        let reason = try #require(poison(chain.derive(amqp("{\"id\": [1]}"))))
        #expect(reason.code == "poison:no-id")
        #expect(
            reason
                == .noIdentity(notes: [
                    "message_id: absent", "header: X-Id: absent",
                    "json: /id: is array, not a string, number or boolean",
                ]))
    }

    @Test func badJSONForAJSONIDIsPoison() throws {
        let reason = try #require(poison(IdentityChain([.json(try JSONPointer("/id"))]).derive(amqp("{\"id\": "))))
        #expect(reason.code == "poison:no-id")
        #expect(reason.description.contains("body is not JSON: invalid JSON at byte 7"))
    }

    @Test func missingJSONFieldIsPoison() throws {
        let reason = try #require(
            poison(IdentityChain([.json(try JSONPointer("/order/id"))]).derive(amqp(#"{"order":{}}"#))))
        #expect(reason.description.contains("no member 'id'"))
    }

    @Test func idOf512BytesIsAccepted() {
        let value = String(repeating: "a", count: 512)
        #expect(id(IdentityChain([.messageId]).derive(amqp(messageId: value)))?.value == value)
    }

    @Test func idOver512BytesIsPoisonAndDoesNotFallThrough() throws {
        let value = String(repeating: "é", count: 257)  // 514 bytes of UTF-8
        let reason = try #require(poison(IdentityChain([.messageId, .contentHash]).derive(amqp(messageId: value))))
        #expect(reason == .idTooLong(source: .messageId, length: 514, limit: 512))
        #expect(reason.code == "poison:id-too-long")
    }

    @Test func idsSortByteWise() {
        let ids = ["b", "a", "B", "é", "aa"].map { MessageID($0, source: .messageId) }
        #expect(ids.sorted().map(\.value) == ["B", "a", "aa", "b", "é"])
    }
}
