import Foundation
import IdemTestSupport
import Testing

/// `idem purge` against the test PostgreSQL.
@Suite("idem purge")
struct PurgeTests {
    /// Rows of both consumers, old and recent, of every status.
    static func populate(_ world: OperationsWorld) async throws {
        try await world.insert("orders", "done-old", count: 10, status: "done", age: "40 days")
        try await world.insert("orders", "dead-old", count: 3, status: "dead", age: "40 days")
        try await world.insert("orders", "failed-old", count: 2, status: "failed", age: "40 days")
        try await world.insert("orders", "processing-old", count: 1, status: "processing", age: "40 days")
        try await world.insert("orders", "done-new", count: 5, status: "done", age: "1 day")
        try await world.insert("billing", "done-old", count: 4, status: "done", age: "40 days")
    }

    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init)
    }

    @Test func deletesExactlyTheRowsOlderThanTheAgeAndReportsTheCount() async throws {
        let world = try await OperationsWorld.make()
        try await Self.populate(world)
        let outcome = try await world.idem(["purge", "--older-than", "30d", "--consumer", "orders"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = Self.lines(outcome.stdout)
        #expect(lines.count == 1)
        #expect(
            lines.first?.hasPrefix("orders: deleted 13 rows (done, dead) last updated before 20") == true, "\(lines)")
        // Not a terminal: no progress line.
        #expect(outcome.stderr.isEmpty, "\(outcome.stderr)")
        let names = OperationsWorld.names
        #expect(
            try await world.ids("orders")
                == names("failed-old", 2).union(names("processing-old", 1)).union(names("done-new", 5)))
        #expect(try await world.ids("billing") == names("done-old", 4))

        // Failed rows only when asked for; every consumer when none is named.
        let failed = try await world.idem(["purge", "--older-than", "30d", "--status", "failed"])
        #expect(failed.status == 0, "\(failed.stderr)")
        let failedLines = Self.lines(failed.stdout)
        #expect(failedLines.count == 2)
        #expect(failedLines.first?.hasPrefix("orders: deleted 2 rows (failed) ") == true, "\(failedLines)")
        #expect(failedLines.last?.hasPrefix("billing: deleted 0 rows (failed) ") == true, "\(failedLines)")
        #expect(try await world.ids("orders") == names("processing-old", 1).union(names("done-new", 5)))

        let everything = try await world.idem(["purge", "--older-than", "30d", "--status", "done,dead,failed"])
        #expect(everything.status == 0, "\(everything.stderr)")
        #expect(Self.lines(everything.stdout).last?.hasPrefix("billing: deleted 4 rows (done, failed, dead) ") == true)
        #expect(try await world.ids("billing").isEmpty)
        try await world.drop()
    }

    @Test func aDryRunCountsAndDeletesNothing() async throws {
        let world = try await OperationsWorld.make()
        try await Self.populate(world)
        let outcome = try await world.idem(["purge", "--older-than", "30d", "--dry-run"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = Self.lines(outcome.stdout)
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("orders: would delete 13 rows (done, dead) last updated before ") == true)
        #expect(lines.first?.hasSuffix("(dry run)") == true)
        #expect(lines.last?.hasPrefix("billing: would delete 4 rows (done, dead) ") == true)
        #expect(try await world.ids("orders").count == 21)
        #expect(try await world.ids("billing").count == 4)
        try await world.drop()
    }

    @Test func anAgeShorterThanTheRedeliveryHorizonIsRefusedWithoutForce() async throws {
        let world = try await OperationsWorld.make()
        try await Self.populate(world)
        let refused = try await world.idem(["purge", "--older-than", "30m"])
        #expect(refused.status == 2)
        #expect(
            refused.stderr.contains(
                "--older-than 30m is shorter than the redelivery horizon of consumer orders ("),
            "\(refused.stderr)")
        #expect(refused.stderr.contains("a message redelivered after its row is gone would be processed again"))
        #expect(refused.stderr.contains("Use --force"))
        #expect(refused.stdout.isEmpty)
        #expect(try await world.ids("orders").count == 21)

        // billing's horizon is exactly an hour (one attempt): an hour is allowed.
        let hour = try await world.idem(["purge", "--older-than", "1h", "--consumer", "billing"])
        #expect(hour.status == 0, "\(hour.stderr)")
        #expect(hour.stdout.hasPrefix("billing: deleted 4 rows"))

        let forced = try await world.idem(["purge", "--older-than", "30m", "--force", "--consumer", "orders"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.hasPrefix("orders: deleted 18 rows (done, dead)"), "\(forced.stdout)")
        #expect(
            try await world.ids("orders")
                == OperationsWorld.names("failed-old", 2).union(OperationsWorld.names("processing-old", 1)))
        try await world.drop()
    }

    @Test(arguments: [
        (["--older-than", "30d", "--status", "processing"], "processing rows are never purged"),
        (["--older-than", "30d", "--status", "done,gone"], "expected done, dead or failed"),
        (["--older-than", "soon"], "--older-than: expected a duration"),
        (["--older-than", "30d", "--batch", "0"], "--batch: expected a whole number from 1 to 100000"),
        (["--older-than", "30d", "--consumer", "nope"], "no consumer named 'nope'"),
    ])
    func usageErrorsAreExit2(arguments: [String], message: String) async throws {
        let file = try IdemProcess.temporaryFile(minimalConfig)
        let outcome = try await IdemProcess.run(["purge", "--config", file.path] + arguments)
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains(message), "\(outcome.stderr)")
    }
}
