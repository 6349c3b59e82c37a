/// What a broker's messages can carry beyond a body and headers; the ID sources that need
/// one of them (``IDSource/requiredFeatures``) yield nothing for a broker without it.
public struct MessageFeatures: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The bits.
    public var rawValue: UInt8

    /// The features of `rawValue`.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A `message-id` property (``MessageProperties/messageId``).
    public static let messageIDProperty = MessageFeatures(rawValue: 1 << 0)
    /// A record key (``Message/key``).
    public static let recordKey = MessageFeatures(rawValue: 1 << 1)
    /// A position in a log (``MessageSource/position``).
    public static let logPosition = MessageFeatures(rawValue: 1 << 2)

    /// The features' names, for messages: `message-id property, record key`.
    public var description: String {
        var names: [String] = []
        if contains(.messageIDProperty) { names.append("message-id property") }
        if contains(.recordKey) { names.append("record key") }
        if contains(.logPosition) { names.append("log position") }
        return names.isEmpty ? "none" : names.joined(separator: ", ")
    }
}
