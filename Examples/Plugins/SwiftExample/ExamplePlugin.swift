// An example idem plugin in Swift (docs/plugins.md): the C example's behaviour, written as
// a Swift dynamic library that exports the four functions of the ABI with `@_cdecl`.
//
// Configuration (JSON, every key optional): `out`, a file to which each handled message's
// ID is appended, one line each; `reject_marker` (default `"reject": true`) and
// `retry_marker` (default `"retry": true`), byte strings whose presence in a body yields
// REJECT and RETRY.
//
// Rules for a Swift plugin: nothing may throw or trap across the C boundary (catch every
// error and turn it into a result code and a reason); the state is a retained object whose
// pointer idem hands back; `idem_plugin_handle` runs on several threads at once, so the
// state is `Sendable` and locks what it mutates.

import CIdemPlugin
import Foundation
import Synchronization

/// One loaded handler's state.
final class ExamplePlugin: Sendable {
    /// The configuration, as JSON.
    private struct Config: Decodable {
        var out: String?
        var rejectMarker: String?
        var retryMarker: String?

        enum CodingKeys: String, CodingKey {
            case out
            case rejectMarker = "reject_marker"
            case retryMarker = "retry_marker"
        }
    }

    /// What an initialisation failure says.
    struct Failure: Error {
        var reason: String
    }

    private let rejectMarker: String
    private let retryMarker: String
    /// The `out` file's descriptor, or -1; the lock serialises the appends.
    private let out: Mutex<Int32>

    init(configJSON: String) throws(Failure) {
        let config: Config
        do {
            config = try JSONDecoder().decode(Config.self, from: Data(configJSON.utf8))
        } catch {
            throw Failure(reason: "invalid config: \(error)")
        }
        rejectMarker = config.rejectMarker ?? #""reject": true"#
        retryMarker = config.retryMarker ?? #""retry": true"#
        var descriptor: Int32 = -1
        if let path = config.out {
            descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw Failure(reason: "cannot open the out file \(path): \(String(cString: strerror(errno)))")
            }
        }
        out = Mutex(descriptor)
    }

    deinit {
        out.withLock { descriptor in
            if descriptor >= 0 { _ = close(descriptor) }
        }
    }

    /// Handles one message: a result code and, for RETRY and REJECT, a reason.
    func handle(_ message: idem_message) -> (Int32, String?) {
        let body = UnsafeBufferPointer(start: message.body, count: message.body_length)
        if contains(body, rejectMarker) {
            return (Int32(IDEM_RESULT_REJECT), "rejected by the example plugin: body contains \(rejectMarker)")
        }
        if contains(body, retryMarker) {
            return (Int32(IDEM_RESULT_RETRY), "retry requested by the example plugin: body contains \(retryMarker)")
        }
        let line = Array((String(cString: message.id) + "\n").utf8)
        let failure = out.withLock { descriptor -> Int32 in
            guard descriptor >= 0 else { return 0 }
            return line.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    offset += written
                }
                return 0
            }
        }
        if failure != 0 {
            return (
                Int32(IDEM_RESULT_RETRY), "cannot append to the out file: \(String(cString: strerror(failure)))"
            )
        }
        return (Int32(IDEM_RESULT_OK), nil)
    }

    /// Whether `body` contains the bytes of `marker` (an empty marker never matches).
    private func contains(_ body: UnsafeBufferPointer<UInt8>, _ marker: String) -> Bool {
        let needle = Array(marker.utf8)
        return !needle.isEmpty && body.firstRange(of: needle) != nil
    }
}

/// Writes `text` into idem's reason buffer, truncated to fit, NUL-terminated.
private func writeReason(_ text: String, to error: UnsafeMutablePointer<CChar>?, capacity: Int) {
    guard let error, capacity > 0 else { return }
    let bytes = Array(text.utf8.prefix(capacity - 1))
    bytes.withUnsafeBytes { source in
        UnsafeMutableRawPointer(error).copyMemory(from: source.baseAddress!, byteCount: source.count)
    }
    error[bytes.count] = 0
}

/// `idem_plugin_abi_version`: the ABI version this plugin was built against.
@_cdecl("idem_plugin_abi_version")
public func idemPluginABIVersion() -> UInt32 {
    UInt32(IDEM_PLUGIN_ABI_VERSION)
}

/// `idem_plugin_init`: parses the configuration, opens the `out` file, stores the state.
@_cdecl("idem_plugin_init")
public func idemPluginInit(
    _ configJSON: UnsafePointer<CChar>?, _ state: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    _ reasonBuffer: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> Int32 {
    guard let configJSON, let state else {
        writeReason("missing argument", to: reasonBuffer, capacity: capacity)
        return 1
    }
    do {
        let plugin = try ExamplePlugin(configJSON: String(cString: configJSON))
        state.pointee = Unmanaged.passRetained(plugin).toOpaque()
        return 0
    } catch {
        writeReason(error.reason, to: reasonBuffer, capacity: capacity)
        return 1
    }
}

/// `idem_plugin_handle`: handles one message; called from several threads at once.
@_cdecl("idem_plugin_handle")
public func idemPluginHandle(
    _ state: UnsafeMutableRawPointer?, _ message: UnsafePointer<idem_message>?,
    _ reasonBuffer: UnsafeMutablePointer<CChar>?, _ capacity: Int
) -> Int32 {
    guard let state, let message else { return Int32(IDEM_RESULT_RETRY) }
    let plugin = Unmanaged<ExamplePlugin>.fromOpaque(state).takeUnretainedValue()
    let (code, reason) = plugin.handle(message.pointee)
    if let reason { writeReason(reason, to: reasonBuffer, capacity: capacity) }
    return code
}

/// `idem_plugin_close`: releases the state (and closes the `out` file).
@_cdecl("idem_plugin_close")
public func idemPluginClose(_ state: UnsafeMutableRawPointer?) {
    guard let state else { return }
    Unmanaged<ExamplePlugin>.fromOpaque(state).release()
}
