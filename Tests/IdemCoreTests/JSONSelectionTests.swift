import IdemConcurrency
import Testing

@testable import IdemCore

/// JSONSelection must agree with a full parse and JSONPointer.resolve on every text: the
/// same values, the same texts refused.
@Suite("JSON selection: pointers resolved in one scan")
struct JSONSelectionTests {
    /// What a full parse says: `nil` when the text is refused, else each pointer's value.
    static func reference(_ bytes: [UInt8], _ pointers: [JSONPointer]) -> [JSONValue?]? {
        guard let root = try? JSONValue(parsing: bytes) else { return nil }
        return pointers.map { try? $0.resolve(in: root).get() }
    }

    static func pointers(_ texts: [String]) throws -> [JSONPointer] {
        try texts.map { try JSONPointer($0) }
    }

    static let pointerTexts = [
        "", "/a", "/a/b", "/a/0", "/a/1/c", "/s", "/n", "/x~1y", "/t~0u", "/é", "/arr/10", "/arr/01", "/arr/-",
        "/a/b/c",
        "/", "/dup", "/dup/k", "/e\"q",
    ]

    static let documents: [String] = [
        #"{"a":{"b":1},"s":"text","n":null}"#,
        #"{"a":[{"c":0},{"c":"second"}],"arr":[0,1,2,3,4,5,6,7,8,9,"ten"]}"#,
        #"{"x/y":1,"t~u":2,"é":3,"":"empty name","e\"q":"quoted"}"#,
        #"{"\u0061":{"b":"escaped name"},"\u00e9":"escaped é"}"#,
        #"{"dup":{"k":1},"dup":2}"#,
        #"{"dup":2,"dup":{"k":"last"}}"#,
        #"{"a":{"b":{"c":[true,false,null,-0.5e-3,1E+2]}}}"#,
        " \n\t{ \"a\" : [ 1 , { \"c\" : \"sp\" } ] } \r\n",
        "\u{FEFF}{\"a\":{\"b\":\"after a byte-order mark\"}}",
        #"[1,2,3]"#, #""just a string""#, "42", "true", "null", "{}", "[]",
        #"{"s":"\ud83d\ude00 pair"}"#,
        // Refused texts.
        "", "{", "{\"a\":1,}", "[1,]", "01", "{\"a\" 1}", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "tru", "1.", "1e", "-", "{\"a\":1}x", "{\"a\":1}{", "\"a\u{01}\"", "{\"a\":\"unterminated}", "[1 2]",
        "{\"a\":{\"b\":1}", "{\"a\":[1,2}", "{1:2}", "'a'", "{\"a\":01}", "{\"a\":.5}", "{\"a\":+1}",
        "{\"a\":{\"b\":\"\\u12\"}}",
    ]

    @Test func agreesWithAFullParseOnEveryDocument() throws {
        let pointers = try Self.pointers(Self.pointerTexts)
        let selection = JSONSelection(pointers)
        for document in Self.documents {
            let bytes = Array(document.utf8)
            let expected = Self.reference(bytes, pointers)
            let got = selection.values(in: bytes)
            #expect(got == expected, "document \(document.debugDescription)")
        }
    }

    @Test func refusesWhatTheParserRefusesOutsideTheSelectedValues() {
        let selection = JSONSelection([try! JSONPointer("/a")])
        // Invalid UTF-8 in a member the selection skips, nesting deeper than the parser
        // allows, and an invalid escape in a skipped string: refused all the same.
        #expect(selection.values(in: Array(#"{"a":1,"b":""#.utf8) + [0xFF] + Array(#""}"#.utf8)) == nil)
        let deep =
            Array(#"{"a":1,"b":"#.utf8) + Array(repeating: UInt8(ascii: "["), count: 600)
            + Array(repeating: UInt8(ascii: "]"), count: 600) + [UInt8(ascii: "}")]
        #expect((try? JSONValue(parsing: deep)) == nil)
        #expect(selection.values(in: deep) == nil)
        #expect(selection.values(in: Array(#"{"a":1,"b":"\q"}"#.utf8)) == nil)
        #expect(selection.values(in: Array(#"{"a":1,"b":"ok"}"#.utf8)) == [.number("1")])
    }

    @Test func aReaderGivesTheValuesInTheOrderOfThePointers() throws {
        let selection = JSONSelection(try Self.pointers(["/b", "/missing", "/a"]))
        var reader = selection.reader(of: Array(#"{"a":1,"b":"two"}"#.utf8))
        #expect(reader.next() == .string("two"))
        #expect(reader.next() == nil)
        #expect(reader.next() == .number("1"))
        var invalid = selection.reader(of: Array(#"{"a":1,"b":}"#.utf8))
        #expect(invalid.next() == nil)
        #expect(invalid.next() == nil)
    }

    @Test func theLastOfARepeatedNameWinsEvenWhenItLacksTheField() throws {
        let selection = JSONSelection(try Self.pointers(["/dup/k"]))
        #expect(selection.values(in: Array(#"{"dup":{"k":1},"dup":{"j":2}}"#.utf8)) == [nil])
        #expect(selection.values(in: Array(#"{"dup":{"j":2},"dup":{"k":1}}"#.utf8)) == [.number("1")])
    }

    /// Random documents, and random one-byte damage to them: the selection and the parser
    /// accept the same texts and find the same values.
    @Test func agreesWithAFullParseOnRandomAndDamagedDocuments() throws {
        let pointers = try Self.pointers(["/a", "/a/0", "/b/c", "/b", "/0", "/c/1/a", "/x~1"])
        let selection = JSONSelection(pointers)
        var random = SplitMix64(seed: 17)
        let alphabet = Array(#"{}[]":,.-+eE0123456789 \tabcnultrsfx/~1\u00é"#.utf8)
        for round in 0..<3000 {
            var bytes = Array(Self.randomValue(&random, depth: 0).utf8)
            if round % 2 == 1, !bytes.isEmpty {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[at] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: at)
                }
            }
            let expected = Self.reference(bytes, pointers)
            #expect(selection.values(in: bytes) == expected, "text \(String(decoding: bytes, as: UTF8.self))")
        }
    }

    static func randomValue(_ random: inout SplitMix64, depth: Int) -> String {
        let names = ["a", "b", "c", "x/", "0", "1", "\\u0061", "é"]
        switch random.next() % (depth > 3 ? 4 : 6) {
        case 0: return ["1", "-0.5", "2e3", "0", "12.25E-1"][Int(random.next() % 5)]
        case 1: return ["\"s\"", "\"\\n\\u00e9\"", "\"é\"", "\"\""][Int(random.next() % 4)]
        case 2: return ["true", "false"][Int(random.next() % 2)]
        case 3: return "null"
        case 4:
            let count = Int(random.next() % 4)
            let members = (0..<count).map { _ in
                "\"\(names[Int(random.next() % UInt64(names.count))])\":\(randomValue(&random, depth: depth + 1))"
            }
            return "{" + members.joined(separator: ",") + "}"
        default:
            let count = Int(random.next() % 4)
            return "[" + (0..<count).map { _ in randomValue(&random, depth: depth + 1) }.joined(separator: ", ") + "]"
        }
    }
}
