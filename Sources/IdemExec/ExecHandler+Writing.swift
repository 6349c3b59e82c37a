import IdemCore

extension ExecHandler {
    /// Carries out what a hand-over of requests to slot `index` requires.
    func apply(_ effects: ExecSendEffects, slot index: Int) {
        if effects.scheduleWriter {
            threads[index].writer.submit { [self] in drainOutbox(slot: index) }
        }
        if effects.wakeReader {
            threads[index].wake.wake()
        }
    }

    /// Writes the slot's queued request bytes until none are left, on the writer thread.
    ///
    /// Requests queued while a write is under way go out together in the next one, so
    /// under load many requests share one `write(2)`. A failed write (the child is gone)
    /// drops the bytes: the reader thread sees the child end and fails its requests.
    func drainOutbox(slot index: Int) {
        ExecChild.blockBrokenPipeSignal()
        while true {
            let batch = state.withLock { state -> (ExecChild, [UInt8])? in
                guard let child = state.slots[index].child, !state.slots[index].inputClosed,
                    !state.slots[index].outbox.isEmpty
                else {
                    state.slots[index].writerScheduled = false
                    return nil
                }
                var bytes: [UInt8] = []
                swap(&bytes, &state.slots[index].outbox)
                return (child, bytes)
            }
            guard let batch else { return }
            _ = batch.0.writeInput(batch.1)
        }
    }
}
