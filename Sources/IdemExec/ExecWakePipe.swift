#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A non-blocking pipe that wakes a slot's reader thread out of `poll(2)`: when a request
/// arrives while it waits without a deadline, and at shutdown.
///
/// Sendable without locks: both descriptors are set once in `init` and closed in `deinit`,
/// when no thread can use them any more.
final class ExecWakePipe: Sendable {
    /// The end the reader thread polls (`-1` if the pipe could not be created; `poll(2)`
    /// ignores it then).
    let readDescriptor: Int32
    private let writeDescriptor: Int32

    /// Opens the pipe, both ends non-blocking and close-on-exec.
    init() {
        let ends = ExecPipe.lock.withLock { _ in ExecPipe.make(nonBlockingRead: true, nonBlockingWrite: true) }
        readDescriptor = ends?.read ?? -1
        writeDescriptor = ends?.write ?? -1
    }

    deinit {
        if readDescriptor >= 0 { _ = close(readDescriptor) }
        if writeDescriptor >= 0 { _ = close(writeDescriptor) }
    }

    /// Makes the read end readable (a full pipe is readable already).
    func wake() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }

    /// Discards what was written.
    func drain() {
        var sink = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &sink, sink.count) > 0 {}
    }
}
