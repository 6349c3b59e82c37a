import Testing

@testable import IdemCore

@Suite("JSON parsing and pointers")
struct JSONTests {
    @Test func parsesEveryValueKind() throws {
        let value = try JSONValue(
            parsing: Array(#" {"a":[1,-2.5e3,true,false,null],"s":"x\"\\\/\n\u00e9\ud83d\ude00"} "#.utf8))
        #expect(value[member: "a"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        #expect(value[member: "s"] == .string("x\"\\/\né😀"))
    }

    @Test(arguments: [
        ("", "unexpected end of input"), ("{", "expected a member name"), ("[1,]", "unexpected character"),
        ("01", "unexpected data after the JSON value"), ("\"\\x\"", "invalid escape"), ("{\"a\" 1}", "expected ':'"),
        ("\"\\ud800\"", "unpaired UTF-16 surrogate"), ("tru", "invalid literal"), ("1.", "expected a digit"),
        ("\"a\u{01}\"", "unescaped control character"),
    ])
    func rejectsInvalidJSON(text: String, reason: String) {
        #expect {
            try JSONValue(parsing: Array(text.utf8))
        } throws: { error in
            (error as? JSONParseError)?.reason.contains(reason) == true
        }
    }

    @Test func rejectsInvalidUTF8InStrings() {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: [0x22, 0xff, 0x22]) }
    }

    @Test func serializesCompactly() throws {
        let value = try JSONValue(parsing: Array(#"{ "b" : [ 1 , "x\ty" ] , "a" : {} }"#.utf8))
        #expect(value.jsonText == #"{"b":[1,"x\ty"],"a":{}}"#)
    }

    @Test func pointerSyntax() throws {
        #expect(try JSONPointer("").tokens == [])
        #expect(try JSONPointer("/a~1b/c~0d/~01").tokens == ["a/b", "c~d", "~1"])
        #expect(throws: JSONPointerError.self) { try JSONPointer("a/b") }
        #expect(throws: JSONPointerError.self) { try JSONPointer("/a~2") }
        #expect(throws: JSONPointerError.self) { try JSONPointer("/a~") }
    }

    @Test func pointerResolution() throws {
        let doc = try JSONValue(parsing: Array(#"{"list":[10,20],"obj":{"k":"v"}}"#.utf8))
        #expect(try JSONPointer("/list/1").resolve(in: doc).get() == .number("20"))
        #expect(try JSONPointer("").resolve(in: doc).get() == doc)
        for (pointer, reason) in [
            ("/list/2", "not an index"), ("/list/01", "not an index"), ("/list/-", "not an index"),
            ("/obj/x", "no member 'x'"), ("/obj/k/z", "/obj/k is a string"),
        ] {
            guard case .failure(let error) = try JSONPointer(pointer).resolve(in: doc) else {
                Issue.record("\(pointer) resolved")
                continue
            }
            #expect(error.reason.contains(reason), "\(pointer): \(error.reason)")
        }
    }
}
