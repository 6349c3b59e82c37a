#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A non-blocking pipe that librdkafka writes to when the consumer queue gets an item
/// (`rd_kafka_queue_io_event_enable`), so that the consumer's thread can wait for it
/// together with other work.
///
/// Not `Sendable`: owned by the consumer and used on its thread; librdkafka's threads only
/// write to ``writeDescriptor``.
final class KafkaWakePipe {
    /// The end the consumer waits on.
    let readDescriptor: Int32
    /// The end librdkafka writes to.
    let writeDescriptor: Int32
    private var isOpen = true

    /// Opens the pipe, both ends non-blocking and close-on-exec.
    init() throws(KafkaError) {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else {
            throw KafkaError(
                kind: .clientCreation,
                message: "could not create the Kafka consumer's wake-up pipe: \(String(cString: strerror(errno)))")
        }
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    deinit {
        close()
    }

    /// Reads and discards whatever was written.
    func drain() {
        var sink = [UInt8](repeating: 0, count: 256)
        while read(readDescriptor, &sink, sink.count) > 0 {}
    }

    /// Closes both ends; closing twice is harmless.
    func close() {
        guard isOpen else { return }
        isOpen = false
        #if canImport(Glibc)
            _ = Glibc.close(readDescriptor)
            _ = Glibc.close(writeDescriptor)
        #else
            _ = Darwin.close(readDescriptor)
            _ = Darwin.close(writeDescriptor)
        #endif
    }
}
