import Foundation
import IdemConfig
import IdemCore

/// The JSON-lines message format shared by `idem derive-id`, `idem publish` and
/// `idem replay` (the replay corpus): one JSON object a line, every field optional.
///
/// ```
/// {"body": "text" | "body_json": {…} | "body_base64": "…",
///  "message_id": "…", "headers": {"name": value, …}, "key": "…",
///  "properties": {"content_type": "…", "correlation_id": "…", "type": "…", "app_id": "…",
///                 "user_id": "…", "reply_to": "…", "content_encoding": "…",
///                 "timestamp": 1700000000 | "2026-03-01T12:00:00Z", "priority": 0-255,
///                 "delivery_mode": 1 | 2 | "transient" | "persistent", "persistent": true,
///                 "expiration": "60000"},
///  "partition": 0, "times": N (or "copies": N),
///  "topic": "t", "offset": 42, "queue": "q"}   // derive-id only: where it came from
/// ```
enum SampleMessage {
    /// A line that does not follow the format; the description names the field.
    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    /// Every field a line may have.
    static let fields = [
        "body", "body_json", "body_base64", "message_id", "headers", "key", "properties", "partition", "times",
        "copies", "topic", "offset", "queue",
    ]

    /// Every member of `properties`.
    static let propertyFields = [
        "content_type", "content_encoding", "correlation_id", "type", "app_id", "user_id", "reply_to", "expiration",
        "timestamp", "priority", "delivery_mode", "persistent", "message_id",
    ]

    /// The most copies one line may ask for.
    static let maximumTimes = 10_000

    /// The non-blank lines of a samples file (`-`: standard input), with their 1-based
    /// numbers.
    static func lines(of path: String) throws -> [(number: Int, bytes: [UInt8])] {
        let data: Data
        do {
            data =
                path == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CLIFailure.config("\(path): cannot read the file")
        }
        return data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
            .filter { !$0.element.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
            .map { ($0.offset + 1, Array($0.element)) }
    }

    /// Every entry of a corpus file, or a configuration error (exit 2) naming the file, the
    /// line and the field of the first bad line.
    static func corpus(_ path: String, kind: SourceKind, queue: String, topic: String) throws -> [CorpusEntry] {
        try lines(of: path).map { number, bytes in
            do {
                return try entry(bytes, line: number, kind: kind, queue: queue, topic: topic)
            } catch {
                throw CLIFailure.config("\(path):\(number): \(error)")
            }
        }
    }

    /// The entries of a corpus for `consumer`'s source.
    static func corpus(_ path: String, consumer: ConsumerConfig) throws -> [CorpusEntry] {
        switch consumer.source {
        case .amqp(let amqp): return try corpus(path, kind: .amqp, queue: amqp.queue, topic: "")
        case .kafka(let kafka): return try corpus(path, kind: .kafka, queue: "", topic: kafka.topics[0])
        }
    }

    /// One line as a corpus entry: the message, how many times to send it and where.
    static func entry(_ line: [UInt8], line number: Int, kind: SourceKind, queue: String, topic: String) throws
        -> CorpusEntry
    {
        let message = try parse(line, kind: kind, queue: queue, topic: topic)
        let document = try? JSONValue(parsing: line)
        let times = try count(document?[member: "times"], field: "times")
        let copies = try count(document?[member: "copies"], field: "copies")
        if times != nil, copies != nil {
            throw Invalid(description: "field 'copies': give either 'times' or 'copies' (its older name), not both")
        }
        var partition: Int32?
        if let value = document?[member: "partition"] {
            guard let text = value.numberText, let number = Int32(text), number >= 0 else {
                throw Invalid(
                    description: "field 'partition': expected a partition number (0 or more), got \(value.jsonText)")
            }
            partition = number
        }
        return CorpusEntry(line: number, message: message, times: times ?? copies ?? 1, partition: partition)
    }

    /// The message of a line, as `consumer`'s source would deliver it.
    static func parse(_ line: [UInt8], kind: SourceKind, consumer: ConsumerConfig) throws -> Message {
        switch consumer.source {
        case .amqp(let amqp): return try parse(line, kind: kind, queue: amqp.queue, topic: "")
        case .kafka(let kafka): return try parse(line, kind: kind, queue: "", topic: kafka.topics[0])
        }
    }

    /// The message of a line; `queue` or `topic` is its source unless the line names one.
    static func parse(_ line: [UInt8], kind: SourceKind, queue: String, topic: String) throws -> Message {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: line)
        } catch {
            throw Invalid(description: "\(error)")
        }
        guard case .object(let members) = document else {
            throw Invalid(description: "expected a JSON object, got a \(document.typeName)")
        }
        for (name, _) in members where !fields.contains(name) {
            throw Invalid(description: "unknown field '\(name)' (fields: \(fields.joined(separator: ", ")))")
        }
        let bodies = ["body", "body_json", "body_base64"].filter { document[member: $0] != nil }
        if bodies.count > 1 {
            throw Invalid(description: "field '\(bodies[1])': give one of body, body_json and body_base64")
        }
        var body: [UInt8] = []
        if let value = document[member: "body"] {
            guard case .string(let text) = value else {
                throw Invalid(
                    description: "field 'body': expected a string (use body_json for JSON), got a \(value.typeName)")
            }
            body = Array(text.utf8)
        } else if let json = document[member: "body_json"] {
            body = Array(json.jsonText.utf8)
        } else if let value = document[member: "body_base64"] {
            guard case .string(let base64) = value, let data = Data(base64Encoded: base64) else {
                throw Invalid(description: "field 'body_base64': expected a base64 string")
            }
            body = Array(data)
        }
        var headers: [String: HeaderValue] = [:]
        if let value = document[member: "headers"] {
            guard case .object(let entries) = value else {
                throw Invalid(description: "field 'headers': expected an object, got a \(value.typeName)")
            }
            for (name, value) in entries {
                switch value {
                case .string(let text): headers[name] = kind == .kafka ? .bytes(Array(text.utf8)) : .string(text)
                case .number(let text): headers[name] = Int64(text).map(HeaderValue.int) ?? .string(text)
                case .bool(let flag): headers[name] = .bool(flag)
                case .null: headers[name] = .void
                default: headers[name] = .string(value.jsonText)
                }
            }
        }
        var properties = try self.properties(document[member: "properties"])
        if let value = document[member: "message_id"] {
            guard let id = value.scalarText else {
                throw Invalid(description: "field 'message_id': expected a string, got a \(value.typeName)")
            }
            if let other = properties.messageId, other != id {
                throw Invalid(description: "field 'properties.message_id': differs from 'message_id'")
            }
            properties.messageId = id
        }
        let key = document[member: "key"]?.scalarText.map { Array($0.utf8) }
        let source: MessageSource
        if kind == .kafka {
            let position = LogPosition(
                stream: document[member: "topic"]?.scalarText ?? topic,
                lane: Int32(document[member: "partition"]?.scalarText ?? "0") ?? 0,
                offset: Int64(document[member: "offset"]?.scalarText ?? "0") ?? 0)
            source = MessageSource(kind: kind, position: position, features: KafkaSourceConfig.messageFeatures)
        } else {
            source = MessageSource(
                kind: kind, description: "amqp:\(document[member: "queue"]?.scalarText ?? queue)",
                features: AMQPSourceConfig.messageFeatures)
        }
        return Message(
            body: body, headers: headers, properties: properties, key: kind == .kafka ? key : nil, source: source)
    }

    /// `times` or `copies`: a whole number from 1 to ``maximumTimes``, or nil when absent.
    private static func count(_ value: JSONValue?, field: String) throws -> Int? {
        guard let value else { return nil }
        guard let text = value.numberText, let number = Int(text), (1...maximumTimes).contains(number) else {
            throw Invalid(
                description:
                    "field '\(field)': expected a whole number from 1 to \(maximumTimes), got \(value.jsonText)")
        }
        return number
    }

    /// The AMQP properties of a line's `properties` object (persistent unless it says
    /// otherwise).
    private static func properties(_ value: JSONValue?) throws -> MessageProperties {
        var properties = MessageProperties()
        properties.deliveryMode = 2
        guard let value else { return properties }
        guard case .object(let members) = value else {
            throw Invalid(description: "field 'properties': expected an object, got a \(value.typeName)")
        }
        for (name, member) in members {
            let field = "properties.\(name)"
            func text() throws -> String {
                guard case .string(let text) = member else {
                    throw Invalid(description: "field '\(field)': expected a string, got \(member.jsonText)")
                }
                return text
            }
            switch name {
            case "content_type": properties.contentType = try text()
            case "content_encoding": properties.contentEncoding = try text()
            case "correlation_id": properties.correlationId = try text()
            case "type": properties.type = try text()
            case "app_id": properties.appId = try text()
            case "user_id": properties.userId = try text()
            case "reply_to": properties.replyTo = try text()
            case "message_id": properties.messageId = try text()
            case "expiration":
                // The broker wants milliseconds as text; accept a number too.
                guard let text = member.scalarText, let milliseconds = UInt64(text) else {
                    throw Invalid(
                        description: "field '\(field)': expected the TTL in milliseconds, got \(member.jsonText)")
                }
                properties.expiration = String(milliseconds)
            case "timestamp": properties.timestamp = try timestamp(member, field: field)
            case "priority":
                guard let text = member.numberText, let priority = UInt8(text) else {
                    throw Invalid(
                        description: "field '\(field)': expected a whole number from 0 to 255, got \(member.jsonText)")
                }
                properties.priority = priority
            case "delivery_mode":
                switch member.scalarText {
                case "1", "transient": properties.deliveryMode = 1
                case "2", "persistent": properties.deliveryMode = 2
                default:
                    throw Invalid(
                        description:
                            "field '\(field)': expected 1, 2, \"transient\" or \"persistent\", got \(member.jsonText)")
                }
            case "persistent":
                guard case .bool(let persistent) = member else {
                    throw Invalid(description: "field '\(field)': expected true or false, got \(member.jsonText)")
                }
                properties.deliveryMode = persistent ? 2 : 1
            default:
                throw Invalid(
                    description:
                        "unknown field '\(field)' (properties: \(propertyFields.joined(separator: ", ")))")
            }
        }
        return properties
    }

    /// Seconds since 1970, from a number or an ISO 8601 date-time text.
    private static func timestamp(_ value: JSONValue, field: String) throws -> UInt64 {
        if let text = value.numberText, let seconds = UInt64(text) { return seconds }
        if case .string(let text) = value, let date = ISO8601DateFormatter().date(from: text),
            date.timeIntervalSince1970 >= 0
        {
            return UInt64(date.timeIntervalSince1970)
        }
        throw Invalid(
            description:
                "field '\(field)': expected seconds since 1970 or an ISO 8601 time such as \"2026-03-01T12:00:00Z\", got \(value.jsonText)"
        )
    }
}

extension JSONValue {
    /// The text of a number, or of a string holding one; nil for anything else.
    fileprivate var numberText: String? {
        switch self {
        case .number(let text): return text
        case .string(let text): return text
        default: return nil
        }
    }
}
