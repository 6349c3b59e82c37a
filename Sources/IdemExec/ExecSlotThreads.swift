import IdemConcurrency

/// The dedicated threads of one pool slot, kept across restarts of its process: the
/// reader (supervises the child: reads its output, enforces timeouts, restarts it) and the
/// writer (writes request batches to the child's standard input, which may block).
struct ExecSlotThreads: Sendable {
    /// Runs the slot's supervision loop.
    let reader: ThreadExecutor
    /// Runs drain jobs that write queued requests.
    let writer: ThreadExecutor
    /// Wakes the reader out of `poll(2)`.
    let wake: ExecWakePipe

    /// Starts the threads of slot `index`.
    init(index: Int) {
        reader = ThreadExecutor(name: "idem-exec-r\(index)")
        writer = ThreadExecutor(name: "idem-exec-w\(index)")
        wake = ExecWakePipe()
    }
}
