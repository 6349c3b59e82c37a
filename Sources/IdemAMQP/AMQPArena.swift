import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// C memory for the arguments of one librabbitmq call, freed when the arena goes away.
///
/// librabbitmq takes strings and tables as `amqp_bytes_t`/`amqp_table_t` that point at
/// caller-owned memory; the arena owns that memory for exactly one call.
final class AMQPArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { free(block) }
    }

    /// A copy of `text` as `amqp_bytes_t` (not NUL-terminated).
    func bytes(_ text: String) -> amqp_bytes_t {
        bytes(Array(text.utf8))
    }

    /// A copy of `data` as `amqp_bytes_t`.
    func bytes(_ data: [UInt8]) -> amqp_bytes_t {
        guard !data.isEmpty, let block = malloc(data.count) else {
            return amqp_bytes_t(len: 0, bytes: nil)
        }
        blocks.append(block)
        data.withUnsafeBytes { source in
            block.copyMemory(from: source.baseAddress!, byteCount: data.count)
        }
        return amqp_bytes_t(len: data.count, bytes: block)
    }

    /// A NUL-terminated copy of `text`.
    func cString(_ text: String) -> UnsafePointer<CChar> {
        let copy = strdup(text)!
        blocks.append(UnsafeMutableRawPointer(copy))
        return UnsafePointer(copy)
    }

    /// Zeroed memory for `count` values of `T`.
    func allocate<T>(count: Int) -> UnsafeMutablePointer<T> {
        let block = calloc(max(count, 1), MemoryLayout<T>.stride)!
        blocks.append(block)
        return block.bindMemory(to: T.self, capacity: count)
    }
}

extension amqp_bytes_t {
    /// The bytes as a Swift string (invalid UTF-8 is repaired).
    var string: String {
        guard len > 0, let bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: len), as: UTF8.self)
    }

    /// A copy of the bytes.
    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }
}
