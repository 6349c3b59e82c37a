import IdemCore

/// Encodes one message as a request line of the exec protocol (docs/exec-protocol.md):
/// a compact JSON object followed by `\n`, built byte by byte without Foundation.
///
/// `id` is always the first member, so that even a minimal handler can extract it with a
/// regular expression. A valid W3C `traceparent` (and `tracestate`) header is also given as
/// a member of its own, so that the handler can continue the producer's trace. Header values that are not text are Base64-encoded and their names
/// listed in `headers_base64`; a body (or Kafka key) that is not valid UTF-8 is
/// Base64-encoded with `body_base64` (`key_base64`) set to `true`. AMQP nested arrays, tables
/// and void header values are left out.
enum ExecRequestEncoder {
    /// The request line for `message`, ending in a newline.
    static func encode(_ message: Message, context: HandlerContext) -> [UInt8] {
        var out: [UInt8] = []
        let body = message.body
        out.reserveCapacity(body.count + 192)
        appendRaw(#"{"id":"#, to: &out)
        appendString(context.id.value, to: &out)
        appendRaw(#","fence":"#, to: &out)
        appendRaw(String(context.fence), to: &out)
        appendRaw(#","attempt":"#, to: &out)
        appendRaw(String(context.attempt), to: &out)
        appendRaw(#","source":"#, to: &out)
        appendString(message.source.description, to: &out)
        appendRaw(#","consumer":"#, to: &out)
        appendString(context.consumer, to: &out)
        appendHeaders(message.headers, to: &out)
        if let trace = message.trace {
            appendRaw(#","traceparent":"#, to: &out)
            appendString(trace.traceparent, to: &out)
            if let state = trace.tracestate {
                appendRaw(#","tracestate":"#, to: &out)
                appendString(state, to: &out)
            }
        }
        if let key = message.key {
            appendRaw(#","key":"#, to: &out)
            if !appendBytes(key, to: &out) {
                appendRaw(#","key_base64":true"#, to: &out)
            }
        }
        appendRaw(#","body":"#, to: &out)
        if !appendBytes(body, to: &out) {
            appendRaw(#","body_base64":true"#, to: &out)
        }
        appendRaw("}\n", to: &out)
        return out
    }

    private static func appendHeaders(_ headers: [String: HeaderValue], to out: inout [UInt8]) {
        appendRaw(#","headers":{"#, to: &out)
        guard !headers.isEmpty else {
            out.append(UInt8(ascii: "}"))
            return
        }
        var binary: [String] = []
        var first = true
        for name in headers.keys.sorted() {
            guard let value = headers[name] else { continue }
            switch value {
            case .array, .table, .void:
                continue
            default:
                break
            }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendString(name, to: &out)
            out.append(UInt8(ascii: ":"))
            switch value {
            case .string(let text):
                appendString(text, to: &out)
            case .bytes(let bytes):
                if !appendBytes(bytes, to: &out) { binary.append(name) }
            case .double(let number):
                appendString(value.identityText ?? String(number), to: &out)
            default:
                appendString(value.identityText ?? "", to: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        if !binary.isEmpty {
            appendRaw(#","headers_base64":["#, to: &out)
            for (index, name) in binary.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                appendString(name, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// Appends `bytes` as a JSON string: escaped text when they are valid UTF-8 (returns
    /// `true`), else Base64 text (returns `false`).
    private static func appendBytes(_ bytes: [UInt8], to out: inout [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            if isValidUTF8(buffer) {
                appendEscaped(buffer, to: &out)
                return true
            }
            out.append(UInt8(ascii: "\""))
            Base64.append(buffer, to: &out)
            out.append(UInt8(ascii: "\""))
            return false
        }
    }

    private static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        return ascii || String(validating: bytes, as: UTF8.self) != nil
    }

    /// Appends text that needs no escaping (member names, numbers, punctuation).
    private static func appendRaw(_ text: String, to out: inout [UInt8]) {
        out.append(contentsOf: text.utf8)
    }

    private static func appendString(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendEscaped($0, to: &out) }
    }

    /// Appends valid UTF-8 `bytes` as a quoted JSON string, copying runs that need no
    /// escaping in one go.
    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var runStart = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") { continue }
            if runStart < index {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            }
            runStart = index + 1
            out.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\n"): out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): out.append(UInt8(ascii: "r"))
            case UInt8(ascii: "\t"): out.append(UInt8(ascii: "t"))
            case 0x08: out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "f"))
            default:
                let digits: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [
                    UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), digits[Int(byte >> 4)],
                    digits[Int(byte & 0x0f)],
                ])
            }
        }
        if runStart < bytes.count {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}
