import Testing

@testable import IdemAMQP

/// Field tables without a broker: conversion to and from librabbitmq's C form, equality,
/// literals and sizes.
@Suite("AMQP field tables")
struct AMQPTableTests {
    /// A table with every field type, nested in tables and arrays.
    static let everyType: AMQPTable = [
        "boolean": .boolean(true),
        "i8": .i8(-8),
        "u8": .u8(200),
        "i16": .i16(-1600),
        "u16": .u16(60_000),
        "i32": .i32(-320_000),
        "u32": .u32(4_000_000_000),
        "i64": .i64(-64_000_000_000),
        "f32": .f32(3.5),
        "f64": .f64(-2.25),
        "decimal": .decimal(scale: 2, value: 12_345),
        "utf8": .utf8("héllo ✓"),
        "bytes": .bytes([0, 1, 2, 255]),
        "timestamp": .timestamp(1_700_000_000),
        "void": .void,
        "array": [.i32(1), "two", [false, .void], ["deep": ["deeper": .u8(7)]], []],
        "table": ["nested": ["x": 1.5, "list": [1, 2, 3]], "empty": .table([:])],
    ]

    @Test("every field type survives the C form, nested at any depth")
    func cRoundTrip() {
        var table = Self.everyType
        table["u64"] = .u64(UInt64.max)
        let arena = AMQPArena()
        let decoded = AMQPTable(arena.table(table))
        #expect(decoded == table)
        #expect(decoded.keys == table.keys, "order is kept")
        for entry in table {
            #expect(AMQPFieldValue(arena.fieldValue(entry.value)) == entry.value, "\(entry.key)")
        }
        #expect(AMQPTable(arena.table([:])).isEmpty)
    }

    @Test("equality ignores order; the subscript reads, replaces, appends and removes")
    func equalityAndSubscript() {
        let one: AMQPTable = ["a": 1, "b": "x"]
        let two: AMQPTable = ["b": "x", "a": 1]
        #expect(one == two)
        #expect(one.hashValue == two.hashValue)
        #expect(one != ["a": 1, "b": "y"])
        #expect(one != ["a": 1])
        #expect(one != ["a": .i32(1), "b": "x"], "the field type is part of the value")

        var table = one
        table["a"] = .boolean(false)
        table["c"] = .void
        #expect(table.keys == ["a", "b", "c"])
        #expect(table["a"] == .boolean(false))
        table["b"] = nil
        #expect(table.keys == ["a", "c"])
        #expect(table["missing"] == nil)
        #expect(AMQPTable(strings: ["z": "1", "y": "2"]).keys == ["y", "z"])
    }

    @Test("accessors convert what they can")
    func accessors() {
        #expect(AMQPFieldValue.utf8("x").stringValue == "x")
        #expect(AMQPFieldValue.bytes(Array("ok".utf8)).stringValue == "ok")
        #expect(AMQPFieldValue.bytes([0xFF]).stringValue == nil)
        #expect(AMQPFieldValue.u32(7).integerValue == 7)
        #expect(AMQPFieldValue.u64(UInt64.max).integerValue == nil)
        #expect(AMQPFieldValue.timestamp(1).integerValue == nil)
        #expect(AMQPFieldValue.boolean(true).boolValue == true)
        #expect(AMQPFieldValue.table(["k": 1]).tableValue?["k"] == .i64(1))
        #expect(AMQPFieldValue.array([1]).arrayValue == [.i64(1)])
    }

    @Test("encoded sizes follow the wire format")
    func sizes() {
        #expect(AMQPFieldValue.boolean(true).encodedSize == 2)
        #expect(AMQPFieldValue.decimal(scale: 1, value: 1).encodedSize == 6)
        #expect(AMQPFieldValue.utf8("abc").encodedSize == 8)
        #expect(AMQPFieldValue.void.encodedSize == 1)
        // key "k": 1 + 1, value: 1 + 4 + 0 (an empty array)
        #expect(AMQPTable(["k": .array([])]).encodedSize == 7)
        let properties = AMQPProperties(headers: ["k": "v"], deliveryMode: .persistent, messageId: "m")
        // flags 2, message-id 1 + 1, headers 4 + (1 + 1 + 1 + 4 + 1), delivery-mode 1
        #expect(properties.encodedSize == 17)
    }

    @Test("keys longer than 255 bytes are refused, nested ones too")
    func longKeys() {
        let long = String(repeating: "k", count: 256)
        let error = #expect(throws: AMQPError.self) {
            try AMQPTable(["outer": .array([.table([long: 1])])]).validate("the headers", operation: "test")
        }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.message.contains("'outer'") == true)
    }
}
