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

    /// A table of long-string values, keys sorted so the wire order is stable.
    func table(_ entries: [String: String]) -> amqp_table_t {
        guard !entries.isEmpty,
            let block = calloc(entries.count, MemoryLayout<amqp_table_entry_t>.stride)
        else {
            return amqp_table_t(num_entries: 0, entries: nil)
        }
        blocks.append(block)
        let table = block.bindMemory(to: amqp_table_entry_t.self, capacity: entries.count)
        for (index, key) in entries.keys.sorted().enumerated() {
            var value = amqp_field_value_t()
            value.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
            value.value.bytes = bytes(entries[key]!)
            table[index] = amqp_table_entry_t(key: bytes(key), value: value)
        }
        return amqp_table_t(num_entries: Int32(entries.count), entries: table)
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
