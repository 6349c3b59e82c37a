import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Pipe creation for the exec handler.
///
/// `pipe2(2)` is not visible to Swift, so descriptors are created with `pipe(2)` and made
/// close-on-exec afterwards. ``lock`` is held around that and around every spawn, so that
/// no child of this module can inherit a descriptor in between.
enum ExecPipe {
    /// Held while pipes are created and while a child is spawned.
    static let lock = Mutex(())

    /// A new pipe (read end, write end), both close-on-exec, each non-blocking as asked.
    /// Call with ``lock`` held.
    static func make(nonBlockingRead: Bool, nonBlockingWrite: Bool) -> (read: Int32, write: Int32)? {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { return nil }
        for (descriptor, nonBlocking) in zip(descriptors, [nonBlockingRead, nonBlockingWrite]) {
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            if nonBlocking {
                _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            }
        }
        return (descriptors[0], descriptors[1])
    }
}
