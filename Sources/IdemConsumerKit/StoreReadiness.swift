/// Whether the dedup store has been reached and its schema checked: consumers wait for it
/// before they take their first message.
public actor StoreReadiness {
    private var ready = false
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter = 0

    /// Creates a gate that is not open yet.
    public init() {}

    /// Opens the gate for every waiter, present and future.
    public func markReady() {
        ready = true
        for waiter in waiters.values { waiter.resume() }
        waiters.removeAll()
    }

    /// Returns once the gate is open; throws `CancellationError` if the task is cancelled
    /// first.
    public func waitUntilReady() async throws {
        if ready { return }
        let id = nextWaiter
        nextWaiter += 1
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if ready || Task.isCancelled {
                    continuation.resume()
                } else {
                    waiters[id] = continuation
                }
            }
        } onCancel: {
            Task { await self.release(id) }
        }
        if !ready { try Task.checkCancellation() }
    }

    private func release(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume()
    }
}
