import Foundation
import Testing

@testable import IdemConcurrency

/// An actor pinned to a `ThreadExecutor`, as the client wrappers are.
actor Pinned {
    let executor: ThreadExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    var order: [Int] = []

    init(executor: ThreadExecutor) {
        self.executor = executor
    }

    func onOwnThread() -> Bool {
        executor.isCurrentThread
    }

    func append(_ value: Int) {
        order.append(value)
    }
}

@Suite("ThreadExecutor")
struct ThreadExecutorTests {
    @Test func actorMethodsRunOnTheDedicatedThread() async {
        let executor = ThreadExecutor(name: "idem-test-thread")
        defer { executor.shutdown() }
        let pinned = Pinned(executor: executor)
        #expect(await pinned.onOwnThread())
        #expect(!executor.isCurrentThread)
    }

    @Test func runExecutesOnTheThreadAndPropagatesErrors() async throws {
        struct Boom: Error {}
        let executor = ThreadExecutor(name: "idem-run-thread")
        defer { executor.shutdown() }
        #expect(await executor.run { executor.isCurrentThread })
        await #expect(throws: Boom.self) { try await executor.run { () throws(Boom) -> Int in throw Boom() } }
    }

    @Test func jobsRunInSubmissionOrder() async {
        let executor = ThreadExecutor(name: "idem-order-thread")
        defer { executor.shutdown() }
        let pinned = Pinned(executor: executor)
        for value in 0..<500 { await pinned.append(value) }
        #expect(await pinned.order == Array(0..<500))
    }
}

@Suite("ThreadExecutor after shutdown")
struct ThreadExecutorShutdownTests {
    @Test func workAfterShutdownStillRuns() async throws {
        let executor = ThreadExecutor(name: "idem-late-thread")
        executor.shutdown()
        try await Task.sleep(for: .milliseconds(50))
        #expect(await executor.run { 41 + 1 } == 42)
        let pinned = Pinned(executor: executor)
        await pinned.append(1)
        #expect(await pinned.order == [1])
    }
}
