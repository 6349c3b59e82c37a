import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A local OpenTelemetry collector for tests: an OTLP/HTTP server on loopback that accepts
/// JSON-encoded trace exports (`tracing: {encoding: json}`) and keeps their spans.
public final class OTLPReceiver: Sendable {
    /// One exported span, as the collector received it.
    public struct ReceivedSpan: Sendable, Hashable {
        public var name: String
        /// 32 lowercase hex digits.
        public var traceID: String
        /// 16 lowercase hex digits.
        public var spanID: String
        /// 16 lowercase hex digits, or empty for a root span.
        public var parentSpanID: String
        /// OTLP's `SpanKind` number (5 is consumer).
        public var kind: Int
        /// OTLP's status code number (2 is error).
        public var statusCode: Int
        public var statusMessage: String
        /// Every attribute's value as text.
        public var attributes: [String: String]
        /// The resource's `service.name`.
        public var serviceName: String
    }

    private let channel: any Channel
    private let store: Store
    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    /// The traces URL to configure as `tracing.endpoint`.
    public var endpoint: String { "http://127.0.0.1:\(port)/v1/traces" }

    private init(channel: any Channel, store: Store) {
        self.channel = channel
        self.store = store
        self.port = channel.localAddress?.port ?? 0
    }

    /// Starts a receiver on a free loopback port.
    public static func start() async throws -> OTLPReceiver {
        let store = Store()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(Collector(store: store))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return OTLPReceiver(channel: channel, store: store)
    }

    /// Every span received so far, in the order received.
    public var spans: [ReceivedSpan] { store.bodies.withLock { $0 }.flatMap(Self.spans(in:)) }

    /// The body of every export request, in the order received.
    public var bodies: [Data] { store.bodies.withLock { $0 } }

    /// How many export requests arrived, and the paths and content types they used.
    public var requests: [String] { store.requests.withLock { $0 } }

    /// Stops listening.
    public func stop() async {
        try? await channel.close()
    }

    /// The spans of one `ExportTraceServiceRequest` in OTLP's JSON encoding.
    static func spans(in body: Data) -> [ReceivedSpan] {
        guard let root = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return [] }
        var result: [ReceivedSpan] = []
        for resourceSpans in root["resourceSpans"] as? [[String: Any]] ?? [] {
            let resource = attributes((resourceSpans["resource"] as? [String: Any])?["attributes"])
            for scope in resourceSpans["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scope["spans"] as? [[String: Any]] ?? [] {
                    let status = span["status"] as? [String: Any] ?? [:]
                    result.append(
                        ReceivedSpan(
                            name: span["name"] as? String ?? "", traceID: hexID(span["traceId"], bytes: 16),
                            spanID: hexID(span["spanId"], bytes: 8),
                            parentSpanID: hexID(span["parentSpanId"], bytes: 8),
                            kind: number(span["kind"]), statusCode: number(status["code"]),
                            statusMessage: status["message"] as? String ?? "",
                            attributes: attributes(span["attributes"]),
                            serviceName: resource["service.name"] ?? ""))
                }
            }
        }
        return result
    }

    /// An ID as lowercase hex, whether the exporter wrote hex (as OTLP/JSON says) or base64
    /// (protobuf's JSON mapping of bytes).
    private static func hexID(_ value: Any?, bytes: Int) -> String {
        guard let text = value as? String, !text.isEmpty else { return "" }
        if text.count == bytes * 2, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
        guard let data = Data(base64Encoded: text) else { return text }
        return data.map { String(format: "%02x", $0) }.joined()
    }

    private static func number(_ value: Any?) -> Int {
        if let number = value as? Int { return number }
        if let text = value as? String { return Int(text) ?? 0 }
        return 0
    }

    private static func attributes(_ value: Any?) -> [String: String] {
        var result: [String: String] = [:]
        for entry in value as? [[String: Any]] ?? [] {
            guard let key = entry["key"] as? String, let value = entry["value"] as? [String: Any],
                let first = value.first
            else { continue }
            result[key] = "\(first.value)"
        }
        return result
    }

    private final class Store: Sendable {
        let bodies = Mutex<[Data]>([])
        let requests = Mutex<[String]>([])
    }

    /// Keeps each request's body and answers an empty success.
    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let store: Store
        private var head: HTTPRequestHead?
        private var body = Data()

        init(store: Store) { self.store = store }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = Data()
            case .body(var buffer):
                if let bytes = buffer.readBytes(length: buffer.readableBytes) { body.append(contentsOf: bytes) }
            case .end:
                guard let head else { return }
                self.head = nil
                let received = body
                store.requests.withLock {
                    $0.append("\(head.method) \(head.uri) \(head.headers.first(name: "Content-Type") ?? "")")
                }
                store.bodies.withLock { $0.append(received) }
                let answer = Array("{}".utf8)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: String(answer.count))
                context.write(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))),
                    promise: nil)
                var buffer = context.channel.allocator.buffer(capacity: answer.count)
                buffer.writeBytes(answer)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
