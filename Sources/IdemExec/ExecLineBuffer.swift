#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Splits a stream of bytes into `\n`-terminated lines, keeping an unfinished line between
/// chunks.
struct ExecLineBuffer {
    private var partial: [UInt8] = []
    /// The longest unfinished line kept, in bytes.
    let limit: Int

    /// Creates a buffer that keeps unfinished lines of at most `limit` bytes.
    init(limit: Int) {
        self.limit = limit
    }

    /// Whether the unfinished line has grown past ``limit``.
    var overflowed: Bool { partial.count > limit }

    /// Calls `body` for each complete line in `chunk` (without its newline), the first one
    /// prefixed by the unfinished line of earlier chunks; `body` returns `false` to stop
    /// (the rest of the chunk is dropped). Keeps the new unfinished line.
    mutating func split(_ chunk: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        guard let base = chunk.baseAddress, !chunk.isEmpty else { return }
        var start = 0
        while start < chunk.count,
            let found = memchr(base + start, 0x0A, chunk.count - start)
        {
            let end = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            let keepGoing: Bool
            if partial.isEmpty {
                keepGoing = body(UnsafeBufferPointer(rebasing: chunk[start..<end]))
            } else {
                partial.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[start..<end]))
                keepGoing = partial.withUnsafeBufferPointer { body($0) }
                partial.removeAll(keepingCapacity: true)
            }
            start = end + 1
            guard keepGoing else { return }
        }
        if start < chunk.count {
            partial.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[start...]))
        }
    }

    /// Removes and returns the unfinished line, if any.
    mutating func takePartial() -> [UInt8]? {
        guard !partial.isEmpty else { return nil }
        defer { partial = [] }
        return partial
    }
}
