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

@Suite("ThreadExecutor I/O waits")
struct ThreadExecutorIOWaitTests {
    /// A pipe whose read end stands in for a socket.
    final class Pipe: @unchecked Sendable {
        let read: Int32
        let write: Int32
        init() {
            var descriptors: [Int32] = [0, 0]
            precondition(pipe(&descriptors) == 0)
            read = descriptors[0]
            write = descriptors[1]
        }
        deinit {
            close(read)
            close(write)
        }
    }

    @Test func aWaitEndsWhenTheDescriptorIsReadable() async {
        let executor = ThreadExecutor(name: "idem-io-readable")
        defer { executor.shutdown() }
        let pipe = Pipe()
        var byte: UInt8 = 1
        _ = write(pipe.write, &byte, 1)
        #expect(await executor.run { executor.waitForReadable(pipe.read, timeout: .seconds(30)) } == .readable)
    }

    @Test func aWaitTimesOut() async {
        let executor = ThreadExecutor(name: "idem-io-timeout")
        defer { executor.shutdown() }
        let pipe = Pipe()
        #expect(await executor.run { executor.waitForReadable(pipe.read, timeout: .milliseconds(20)) } == .timedOut)
    }

    @Test func aWaitEndsWhenOtherWorkArrives() async {
        let executor = ThreadExecutor(name: "idem-io-work")
        defer { executor.shutdown() }
        let pipe = Pipe()
        let started = ContinuousClock.now
        async let waited = executor.run { executor.waitForReadable(pipe.read, timeout: .seconds(60)) }
        try? await Task.sleep(for: .milliseconds(50))
        let ran = await executor.run { true }
        #expect(ran)
        #expect(await waited == .workPending)
        #expect(ContinuousClock.now - started < .seconds(30))
    }
}
