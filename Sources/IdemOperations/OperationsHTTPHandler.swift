import IdemConsumerKit
import NIOCore
import NIOHTTP1

/// Answers the operations listener's requests: `GET /metrics`, `/healthz`, `/readyz`, and
/// the admin API's `/admin/…` when it is served there; or, on the admin API's own
/// listener, only `/admin/…`.
public final class OperationsHTTPHandler: ChannelInboundHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundOut = HTTPServerResponsePart

    private let health: HealthState?
    private let metrics: @Sendable () -> [UInt8]
    private let admin: AdminAPI?
    private var request: HTTPRequestHead?

    /// A handler of the operations listener (`health` and `metrics`), with the admin API
    /// if `admin` is given; without `health`, of the admin API alone.
    public init(health: HealthState?, metrics: @escaping @Sendable () -> [UInt8], admin: AdminAPI? = nil) {
        self.health = health
        self.metrics = metrics
        self.admin = admin
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        var status = HTTPResponseStatus.ok
        var contentType = "text/plain; charset=utf-8"
        var body: [UInt8]
        var extraHeaders: [(String, String)] = []
        if let admin, AdminAPI.handles(path) {
            let answer = admin.respond(
                method: head.method, path: path, authorization: head.headers.first(name: "Authorization"))
            status = answer.status
            contentType = "application/json"
            body = answer.body
            if status == .unauthorized { extraHeaders.append(("WWW-Authenticate", "Bearer realm=\"idem admin\"")) }
        } else if health == nil {
            status = .notFound
            body = Array("not found; this is the admin API: try GET /admin/consumers\n".utf8)
        } else if head.method != .GET && head.method != .HEAD {
            status = .methodNotAllowed
            body = Array("use GET\n".utf8)
        } else {
            switch path {
            case "/metrics":
                contentType = "text/plain; version=0.0.4; charset=utf-8"
                body = metrics()
            case "/healthz":
                body = Array("ok\n".utf8)
            case "/readyz":
                let readiness = health!.readiness()
                status = readiness.ready ? .ok : .serviceUnavailable
                body = Array(readiness.report.utf8)
            default:
                status = .notFound
                body = Array("not found; try /metrics, /healthz or /readyz\n".utf8)
            }
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let response = HTTPResponseHead(version: head.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if head.method != .HEAD {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
