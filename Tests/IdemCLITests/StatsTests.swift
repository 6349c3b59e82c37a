import Foundation
import IdemTestSupport
import Testing

/// `idem stats` against the test PostgreSQL.
@Suite("idem stats")
struct StatsTests {
    /// orders: 1 processing, 5 done, 2 failed, 3 dead (the oldest, three days old); minutes
    /// of counts 10 and 20 minutes ago (counted) and two hours ago (not). billing: no rows,
    /// one recent minute.
    static func populate(_ world: OperationsWorld) async throws {
        try await world.insert("orders", "p", count: 1, status: "processing", age: "10 minutes")
        try await world.insert("orders", "d", count: 5, status: "done", age: "1 day")
        try await world.insert("orders", "f", count: 2, status: "failed", age: "2 days")
        try await world.insert("orders", "x", count: 3, status: "dead", age: "3 days")
        try await TestDatabase.sql(
            """
            INSERT INTO \(world.table)_stats
                (consumer, minute, received, processed, duplicates, retried, dead_lettered, payload_conflicts)
            VALUES
                ('orders', date_trunc('minute', now()) - interval '10 minutes', 10, 7, 2, 1, 1, 0),
                ('orders', date_trunc('minute', now()) - interval '20 minutes', 5, 4, 1, 0, 0, 1),
                ('orders', date_trunc('minute', now()) - interval '2 hours', 1000, 400, 500, 50, 50, 5),
                ('billing', date_trunc('minute', now()) - interval '5 minutes', 3, 3, 0, 0, 0, 0)
            """)
        try await TestDatabase.sql("ANALYZE \(world.table)")
    }

    @Test func jsonHasTheCountsTheLastHourAndTheTableSize() async throws {
        let world = try await OperationsWorld.make()
        try await Self.populate(world)
        let outcome = try await world.idem(["stats", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any], "\(outcome.stdout)")
        #expect(object["table"] as? String == world.table)
        #expect((object["total_bytes"] as? Int ?? 0) > 8192)
        #expect(object["estimated_rows"] as? Int == 11)
        let consumers = try #require(object["consumers"] as? [[String: Any]])
        #expect(consumers.map { $0["consumer"] as? String } == ["orders", "billing"])

        let orders = consumers[0]
        #expect(
            orders["rows"] as? [String: Int] == ["processing": 1, "done": 5, "failed": 2, "dead": 3])
        #expect(orders["total_rows"] as? Int == 11)
        let age = try #require(orders["oldest_age_seconds"] as? Double)
        #expect(abs(age - 3 * 86400) < 120)
        #expect((orders["oldest_first_seen_at"] as? String)?.hasSuffix("Z") == true)
        #expect(
            orders["last_hour"] as? [String: Int] == [
                "received": 15, "processed": 11, "duplicates": 3, "retried": 1, "dead_lettered": 1,
                "payload_conflicts": 1,
            ])

        let billing = consumers[1]
        #expect(billing["total_rows"] as? Int == 0)
        #expect(billing["oldest_first_seen_at"] is NSNull)
        #expect((billing["last_hour"] as? [String: Int])?["received"] == 3)

        let one = try await world.idem(["stats", "--json", "--consumer", "billing"])
        let only = try JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as? [String: Any]
        #expect((only?["consumers"] as? [[String: Any]])?.map { $0["consumer"] as? String } == ["billing"])
        try await world.drop()
    }

    @Test func theHumanTableShowsTheSameNumbers() async throws {
        let world = try await OperationsWorld.make()
        try await Self.populate(world)
        let outcome = try await world.idem(["stats"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("dedup table \(world.table): ") == true, "\(outcome.stdout)")
        #expect(lines.first?.contains("on disk with its indexes, about 11 rows") == true, "\(outcome.stdout)")
        func cells(_ prefix: String, after header: String) -> [String]? {
            guard let start = lines.firstIndex(where: { $0.hasPrefix(header) }) else { return nil }
            return lines[start...].first { $0.hasPrefix(prefix + " ") }?.split(separator: " ").map(String.init)
        }
        #expect(
            lines.contains { $0.hasPrefix("consumer") && $0.hasSuffix("processing  done  failed  dead  oldest row") })
        let orders = try #require(cells("orders", after: "consumer"), "\(outcome.stdout)")
        #expect(Array(orders.prefix(5)) == ["orders", "1", "5", "2", "3"])
        #expect(orders.suffix(2) == ["(3d", "ago)"] || orders.suffix(3).first == "(2d", "\(orders)")
        #expect(cells("billing", after: "consumer") == ["billing", "0", "0", "0", "0", "-"])
        #expect(cells("orders", after: "last hour") == ["orders", "15", "11", "3", "1", "1", "1"])
        #expect(cells("billing", after: "last hour") == ["billing", "3", "3", "0", "0", "0", "0"])
        try await world.drop()
    }

    @Test func anUnknownConsumerIsExit2() async throws {
        let world = try await OperationsWorld.make()
        let outcome = try await world.idem(["stats", "--consumer", "nope"])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("no consumer named 'nope'"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("its consumers: orders, billing"))
        try await world.drop()
    }

    @Test(arguments: ["stats", "purge"])
    func unreachablePostgresIsExit1WithTheURLRedacted(command: String) async throws {
        let file = try IdemProcess.temporaryFile(
            minimalConfig.replacingOccurrences(
                of: "postgres://idem@127.0.0.1:5432/idem", with: "postgres://idem:hunter2@127.0.0.1:1/idem"))
        let started = Date()
        let outcome = try await IdemProcess.run(
            [command, "--config", file.path] + (command == "purge" ? ["--older-than", "30d"] : []))
        #expect(outcome.status == 1)
        #expect(
            outcome.stderr.contains("idem \(command): cannot reach PostgreSQL at postgres://idem:***@127.0.0.1:1/idem"),
            "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("hunter2"))
        #expect(Date().timeIntervalSince(started) < 15)
    }

    @Test func anUnmigratedTableSaysToMigrate() async throws {
        let url = try ServiceEnvironment.postgresURL()
        let file = try IdemProcess.temporaryFile(
            minimalConfig.replacingOccurrences(of: "postgres://idem@127.0.0.1:5432/idem", with: url)
                .replacingOccurrences(
                    of: "consumers:", with: "  table: pm_never_\(UUID().uuidString.prefix(8).lowercased())\nconsumers:")
        )
        let outcome = try await IdemProcess.run(["stats", "--config", file.path])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("run `idem migrate --config FILE`"), "\(outcome.stderr)")
    }
}
