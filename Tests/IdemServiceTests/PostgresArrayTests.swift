import IdemPostgres
import IdemTestSupport
import Testing

/// Array literals of ``PostgresConnection``, checked against the server.
@Suite("PostgreSQL arrays")
struct PostgresArrayTests {
    let logger = makeTestLogger("idem.tests.postgres.arrays")

    static let tricky: [String?] = [
        "plain", "with \"quotes\"", "back\\slash", "trailing\\", "\\\"", "a,b", "{braces}", "}", "{",
        " leading and trailing spaces ", "", "NULL", "null", nil, "tab\tnew\nline", "ünïcödé ✓ 日本語 🎉", "'single'",
        "[1:2]={x}",
    ]

    @Test("encoding is a quoted literal")
    func encoding() {
        #expect(PostgresConnection.encodeTextArray(["a", "b\"c", nil]) == #"{"a","b\"c",NULL}"#)
        #expect(PostgresConnection.encodeTextArray([]) == "{}")
        #expect(PostgresConnection.encodeTextArray(["\\"]) == #"{"\\"}"#)
        #expect(PostgresConnection.encodeInt64Array([1, -2, Int64.max]) == "{1,-2,9223372036854775807}")
        #expect(PostgresConnection.encodeInt64Array([]) == "{}")
    }

    @Test("decoding reads quoted, unquoted and decorated literals")
    func decoding() throws {
        #expect(try PostgresConnection.decodeTextArray("{}") == [])
        #expect(try PostgresConnection.decodeTextArray(#"{a,"b c",NULL,"NULL",""}"#) == ["a", "b c", nil, "NULL", ""])
        #expect(try PostgresConnection.decodeTextArray(#" { a b , "x\"y" , \N\ULL } "#) == ["a b", "x\"y", "NULL"])
        #expect(try PostgresConnection.decodeTextArray("[0:1]={x,y}") == ["x", "y"])
        #expect(try PostgresConnection.decodeInt64Array("{1,-2,3}") == [1, -2, 3])
        for bad in ["", "{", "{a", "{a,}", "{{a}}", "a}", "{a}x", #"{"a}"#, "{1,NULL}"] {
            #expect(throws: PostgresError.self, "\(bad)") {
                _ = try PostgresConnection.decodeInt64Array(bad)
            }
        }
        #expect(try PostgresConnection.decodeTextArray(PostgresConnection.encodeTextArray(Self.tricky)) == Self.tricky)
    }

    @Test("tricky strings round-trip through the server")
    func roundTrip() async throws {
        let connection = try await PostgresConnection.connect(url: try ServiceEnvironment.postgresURL(), logger: logger)
        let literal = PostgresConnection.encodeTextArray(Self.tricky)
        let rows = try await connection.query(
            "SELECT value FROM unnest($1::text[]) WITH ORDINALITY AS t(value, n) ORDER BY n", [literal])
        #expect(rows.rows.map { $0[0] } == Self.tricky)
        // And back: the server's own output format decodes to the same values.
        let echoed = try await connection.query("SELECT $1::text[]", [literal])
        let text = try #require(echoed.rows.first?.first ?? nil)
        #expect(try PostgresConnection.decodeTextArray(text) == Self.tricky)
        #expect(try await connection.query("SELECT cardinality($1::text[])", ["{}"]).rows == [["0"]])
        let ids = try await connection.query(
            "SELECT sum(x)::text, count(*) FROM unnest($1::bigint[]) AS x",
            [PostgresConnection.encodeInt64Array([1, 2, 3])])
        #expect(ids.rows == [["6", "3"]])
        await connection.close()
    }
}
