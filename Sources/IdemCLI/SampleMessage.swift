import Foundation
import IdemConfig
import IdemCore

/// The sample-message format of `idem derive-id`.
enum SampleMessage {
    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    /// The non-blank lines of a samples file (`-`: standard input), with their 1-based
    /// numbers.
    static func lines(of path: String) throws -> [(number: Int, bytes: [UInt8])] {
        let data: Data
        do {
            data =
                path == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CLIFailure.config("\(path): cannot read the samples file")
        }
        return data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
            .filter { !$0.element.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
            .map { ($0.offset + 1, Array($0.element)) }
    }

    /// The message of a line and how many copies of it to publish (`"copies"`, default 1).
    static func parseWithCopies(_ line: [UInt8], consumer: ConsumerConfig) throws -> (Message, Int) {
        let message = try parse(line, kind: consumer.source.kind, consumer: consumer)
        let document = try? JSONValue(parsing: line)
        let copies = document?[member: "copies"]?.scalarText.flatMap { Int($0) } ?? 1
        guard (1...10_000).contains(copies) else { throw Invalid(description: "copies must be from 1 to 10000") }
        return (message, copies)
    }

    static func parse(_ line: [UInt8], kind: SourceKind, consumer: ConsumerConfig) throws -> Message {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: line)
        } catch {
            throw Invalid(description: "\(error)")
        }
        guard case .object(let members) = document else {
            throw Invalid(description: "expected a JSON object, got a \(document.typeName)")
        }
        let known = [
            "body", "body_json", "body_base64", "headers", "message_id", "key", "topic", "partition", "offset", "queue",
            "copies",
        ]
        for (name, _) in members where !known.contains(name) {
            throw Invalid(description: "unknown field '\(name)' (fields: \(known.joined(separator: ", ")))")
        }
        var body: [UInt8] = []
        if case .string(let text)? = document[member: "body"] {
            body = Array(text.utf8)
        } else if let json = document[member: "body_json"] {
            body = Array(json.jsonText.utf8)
        } else if case .string(let base64)? = document[member: "body_base64"] {
            guard let data = Data(base64Encoded: base64) else {
                throw Invalid(description: "body_base64 is not base64")
            }
            body = Array(data)
        }
        var headers: [String: HeaderValue] = [:]
        if case .object(let entries)? = document[member: "headers"] {
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
        var properties = MessageProperties()
        properties.messageId = document[member: "message_id"]?.scalarText
        let key = document[member: "key"]?.scalarText.map { Array($0.utf8) }
        let source: MessageSource
        switch consumer.source {
        case .amqp(let amqp):
            source = .amqp(
                queue: document[member: "queue"]?.scalarText ?? amqp.queue, exchange: "", routingKey: amqp.queue,
                redelivered: false)
        case .kafka(let kafka):
            source = .kafka(
                topic: document[member: "topic"]?.scalarText ?? kafka.topics[0],
                partition: Int32(document[member: "partition"]?.scalarText ?? "0") ?? 0,
                offset: Int64(document[member: "offset"]?.scalarText ?? "0") ?? 0)
        }
        return Message(
            body: body, headers: headers, properties: properties, key: kind == .kafka ? key : nil, source: source)
    }
}
