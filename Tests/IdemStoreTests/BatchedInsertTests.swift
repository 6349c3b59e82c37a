import IdemPostgresStore
import Testing

/// Which handler statements are written once per batch, and how.
@Suite("Batched insert rewrite")
struct BatchedInsertTests {
    @Test func aSingleRowInsertBecomesOneStatementOverArrays() throws {
        let form = try #require(
            BatchedInsert(
                sql: "INSERT INTO orders(id, amount) VALUES ($1, $2::numeric)", parameterTypes: ["text", "numeric"]))
        #expect(
            form.sql
                == "INSERT INTO orders(id, amount) SELECT u.idem_p1, u.idem_p2::numeric FROM unnest($1::text[], $2::numeric[]) WITH ORDINALITY AS u(idem_p1, idem_p2, idem_n) ORDER BY u.idem_n"
        )
        #expect(form.parameterCount == 2)
    }

    @Test func keepsOnConflictDoNothingQuotesAndRepeatedPlaceholders() throws {
        let form = try #require(
            BatchedInsert(
                sql: """
                    insert into "Odd Table" ("the id", note, copy) -- a comment
                    values ($1, '$2 stays text', $1 || '-' || $2) on conflict ("the id") do nothing;
                    """,
                parameterTypes: ["text", "character varying"]))
        #expect(form.sql.contains("SELECT u.idem_p1, '$2 stays text', u.idem_p1 || '-' || u.idem_p2 FROM"))
        #expect(form.sql.contains("unnest($1::text[], $2::character varying[])"))
        #expect(form.sql.hasSuffix("ORDER BY u.idem_n on conflict (\"the id\") do nothing"))
        #expect(!form.sql.contains(";"))
    }

    @Test(arguments: [
        "INSERT INTO t VALUES ($1) RETURNING id",
        "INSERT INTO t VALUES ($1) ON CONFLICT (id) DO UPDATE SET n = t.n + 1",
        "INSERT INTO t VALUES ($1), ($1)",
        "INSERT INTO t VALUES ($1, (SELECT max(n) FROM t))",
        "WITH x AS (SELECT 1) INSERT INTO t VALUES ($1)",
        "INSERT INTO t VALUES ($1); DELETE FROM t",
        "INSERT INTO t VALUES ($1, $$text$$)",
        "INSERT INTO t VALUES ($1, E'a\\'b')",
        "INSERT INTO t VALUES ($1, DEFAULT)",
        "INSERT INTO t SELECT $1",
        "UPDATE t SET a = $1",
        "SELECT $1",
        "INSERT INTO t VALUES ('unterminated, $1)",
        "INSERT INTO t VALUES ($1, $3)",
    ])
    func leavesEverythingElsePerMessage(sql: String) {
        #expect(BatchedInsert(sql: sql, parameterTypes: ["text", "text"]) == nil, "\(sql)")
    }

    @Test func needsParametersOfScalarTypes() {
        #expect(BatchedInsert(sql: "INSERT INTO t VALUES (now())", parameterTypes: []) == nil)
        #expect(BatchedInsert(sql: "INSERT INTO t VALUES ($1)", parameterTypes: ["text[]"]) == nil)
        #expect(BatchedInsert(sql: "INSERT INTO t VALUES ($1)", parameterTypes: ["integer"]) != nil)
    }
}
