import Foundation
import IdemPostgres
import IdemTestSupport
import Synchronization
import Testing

/// ``PostgresPool`` against the development PostgreSQL.
@Suite("PostgreSQL pool")
struct PostgresPoolTests {
    let logger = makeTestLogger("idem.tests.postgres.pool")

    private func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
    }

    private func backends(_ applicationName: String, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [applicationName])
        return Int(rows.rows[0][0] ?? "") ?? -1
    }

    @Test("20 concurrent callers share 3 connections")
    func concurrentCallers() async throws {
        let url = try ServiceEnvironment.postgresURL()
        let name = uniqueName("idem-pool-test")
        let pool = PostgresPool(url: url, size: 3, connectTimeout: .seconds(5), applicationName: name, logger: logger)
        let observer = try await PostgresConnection.connect(
            url: url, applicationName: "idem-pool-observer", logger: logger)
        let most = LockedBox(0)
        let pids = LockedBox(Set<String>())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<20 {
                group.addTask {
                    try await pool.withConnection { connection in
                        let rows = try await connection.query(
                            "SELECT pg_backend_pid(), $1::int FROM pg_sleep(0.05)", [String(task)])
                        #expect(rows.rows[0][1] == String(task))
                        pids.withLock { _ = $0.insert(rows.rows[0][0] ?? "") }
                        let stats = await pool.statistics
                        #expect(stats.open + stats.connecting <= 3)
                        let seen = try await backends(name, on: observer)
                        most.withLock { $0 = max($0, seen) }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(most.withLock { $0 } <= 3)
        #expect(most.withLock { $0 } >= 1)
        #expect(pids.withLock { $0.count } <= 3)
        let stats = await pool.statistics
        #expect(stats.open <= 3 && stats.idle == stats.open && stats.leased == 0 && stats.waiting == 0)
        #expect(try await backends(name, on: observer) == stats.open)
        await pool.close()
        #expect(await pool.statistics.open == 0)
        // The backends go away with the pool.
        for _ in 0..<100 where try await backends(name, on: observer) > 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await backends(name, on: observer) == 0)
        await observer.close()
    }

    @Test("a backend terminated while idle is replaced on the next lease")
    func terminatedWhileIdle() async throws {
        let url = try ServiceEnvironment.postgresURL()
        let pool = PostgresPool(url: url, size: 1, connectTimeout: .seconds(5), logger: logger)
        let killer = try await PostgresConnection.connect(url: url, logger: logger)
        let first = try await pool.withConnection { try await $0.query("SELECT pg_backend_pid()").rows[0][0] }
        let pid = try #require(first)
        // With a timeout, pg_terminate_backend returns once the backend has exited.
        let killed = try await killer.query("SELECT pg_terminate_backend($1::int, 5000)", [pid])
        #expect(killed.rows == [["t"]])
        let second = try await pool.withConnection { try await $0.query("SELECT pg_backend_pid()").rows[0][0] }
        #expect(second != nil && second != first)
        #expect(await pool.statistics.open == 1)
        await pool.close()
        await killer.close()
    }

    @Test("a connection that fails inside the body is replaced, and the error reaches the caller")
    func terminatedWhileLeased() async throws {
        let url = try ServiceEnvironment.postgresURL()
        let pool = PostgresPool(url: url, size: 1, connectTimeout: .seconds(5), logger: logger)
        let killer = try await PostgresConnection.connect(url: url, logger: logger)
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { connection in
                let pid = try await connection.query("SELECT pg_backend_pid()").rows[0][0]!
                _ = try await killer.query("SELECT pg_terminate_backend($1::int)", [pid])
                try await waitForBackendExit(pid, on: killer)
                _ = try await connection.query("SELECT 1")
            }
        }
        #expect(error?.isConnectionFailure == true)
        #expect(await pool.statistics.open == 0)
        let value = try await pool.withConnection { try await $0.query("SELECT 7").rows[0][0] }
        #expect(value == "7")
        await pool.close()
        await killer.close()
    }

    @Test("a connection given back inside a transaction is rolled back")
    func givenBackInTransaction() async throws {
        let pool = PostgresPool(
            url: try ServiceEnvironment.postgresURL(), size: 1, connectTimeout: .seconds(5), logger: logger)
        try await pool.withConnection { connection in
            try await connection.execute("CREATE TEMP TABLE pool_leftover (id int)")
            try await connection.begin()
            _ = try await connection.query("INSERT INTO pool_leftover VALUES (1)")
        }
        let status = try await pool.withConnection { connection in
            (await connection.transactionStatus, try await connection.query("SELECT count(*) FROM pool_leftover").rows)
        }
        #expect(status.0 == .idle)
        #expect(status.1 == [["0"]])
        await pool.close()
    }

    @Test("connecting to a closed port fails after about connectTimeout, naming host and port")
    func closedPort() async throws {
        let pool = PostgresPool(
            url: "postgresql://idem:pool-secret@127.0.0.1:1/idem", size: 2, connectTimeout: .seconds(2), logger: logger)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { _ in }
        }
        let elapsed = clock.now - start
        // It gives up (rather than hang) once connectTimeout has passed.
        #expect(elapsed >= .milliseconds(1_500) && elapsed < .seconds(60), "took \(elapsed)")
        #expect(error?.kind == .connectionFailed)
        #expect(error?.isConnectionFailure == true)
        #expect(error?.message.contains("127.0.0.1:1") == true, "\(String(describing: error))")
        #expect(error?.message.contains("pool-secret") == false)
        let stats = await pool.statistics
        #expect(stats.open == 0 && stats.connecting == 0 && stats.waiting == 0)
        await pool.close()
    }

    @Test("a caller cancelled while waiting leaves the queue without leaking the lease")
    func cancelledWaiter() async throws {
        let pool = PostgresPool(
            url: try ServiceEnvironment.postgresURL(), size: 1, connectTimeout: .seconds(5), logger: logger)
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        let (leased, leasedContinuation) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await pool.withConnection { _ in
                leasedContinuation.yield()
                for await _ in release { break }
            }
        }
        for await _ in leased { break }
        let waiter = Task { try await pool.withConnection { _ in "should not run" } }
        while await pool.statistics.waiting == 0 { try await Task.sleep(for: .milliseconds(5)) }
        waiter.cancel()
        let outcome = await waiter.result
        #expect(throws: CancellationError.self) { try outcome.get() }
        #expect(await pool.statistics.waiting == 0)
        releaseContinuation.yield()
        try await holder.value
        let stats = await pool.statistics
        #expect(stats.leased == 0 && stats.idle == 1 && stats.open == 1)
        #expect(try await pool.withConnection { try await $0.query("SELECT 1").rows } == [["1"]])
        await pool.close()
    }

    @Test("waiters are served in arrival order")
    func fifo() async throws {
        let pool = PostgresPool(
            url: try ServiceEnvironment.postgresURL(), size: 1, connectTimeout: .seconds(5), logger: logger)
        let order = LockedBox<[Int]>([])
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        let (leased, leasedContinuation) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await pool.withConnection { _ in
                leasedContinuation.yield()
                for await _ in release { break }
            }
        }
        for await _ in leased { break }
        var tasks: [Task<Void, any Error>] = []
        for index in 0..<5 {
            tasks.append(Task { try await pool.withConnection { _ in order.withLock { $0.append(index) } } })
            while await pool.statistics.waiting < index + 1 { try await Task.sleep(for: .milliseconds(2)) }
        }
        releaseContinuation.yield()
        try await holder.value
        for task in tasks { try await task.value }
        #expect(order.withLock { $0 } == [0, 1, 2, 3, 4])
        await pool.close()
    }

    @Test("a closed pool refuses callers")
    func closed() async throws {
        let pool = PostgresPool(
            url: try ServiceEnvironment.postgresURL(), size: 1, connectTimeout: .seconds(5), logger: logger)
        await pool.close()
        let error = await #expect(throws: PostgresError.self) { try await pool.withConnection { _ in } }
        #expect(error?.kind == .closed)
    }
}

/// A value shared by concurrent test tasks.
private final class LockedBox<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<R: Sendable>(_ body: (inout sending Value) -> R) -> R {
        mutex.withLock { body(&$0) }
    }
}
