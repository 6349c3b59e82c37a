/// Decoding of bytes into text that can serve as an identity or a SQL text parameter.
public enum UTF8Text {
    /// Returns the bytes as a string when they are valid UTF-8 and hold no NUL byte.
    public static func decode(_ bytes: some Collection<UInt8>) -> String? {
        guard !bytes.contains(0) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Lowercase hexadecimal text of the bytes.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            var count = 0
            for byte in bytes {
                buffer[count] = hexDigit(byte >> 4)
                buffer[count + 1] = hexDigit(byte & 0x0f)
                count += 2
            }
            return count
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
