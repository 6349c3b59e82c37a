import NIOCore
import NIOHTTP1
import NIOPosix

/// A client of a worker's admin API, for `idem ctl`: one HTTP/1.1 request per call, on
/// SwiftNIO's event loops.
public struct AdminClient: Sendable {
    /// The API's host.
    public let host: String
    /// The API's port.
    public let port: Int
    private let token: String
    private let timeout: Duration

    /// A client of the API at `host:port`, sending `token`; a request that takes longer than
    /// `timeout` fails.
    public init(host: String, port: Int, token: String, timeout: Duration = .seconds(10)) {
        self.host = host
        self.port = port
        self.token = token
        self.timeout = timeout
    }

    /// What went wrong reaching the API.
    public struct Failure: Error, CustomStringConvertible {
        /// What happened, naming the address.
        public var description: String
    }

    /// `http://host:port`, for messages.
    public var address: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }

    /// Sends `method path` and returns the status code and the body.
    public func request(_ method: HTTPMethod, _ path: String) async throws -> (status: Int, body: [UInt8]) {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: (Int, [UInt8]).self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            promise.fail(error)
            throw Failure(
                description:
                    "cannot reach the admin API at \(address): \(error); is the worker running with admin.enabled: true and this admin.listen?"
            )
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Authorization", value: "Bearer \(token)")
        headers.add(name: "Content-Length", value: "0")
        headers.add(name: "Connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
            promise.fail(Failure(description: "the admin API at \(address) did not answer within \(timeout)"))
            channel.close(promise: nil)
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        do {
            let (status, body) = try await promise.futureResult.get()
            return (status, body)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "the admin API at \(address) failed: \(error)")
        }
    }

    /// Collects one response and completes the promise with it.
    private final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        private let promise: EventLoopPromise<(Int, [UInt8])>
        private var status = 0
        private var body: [UInt8] = []

        init(promise: EventLoopPromise<(Int, [UInt8])>) {
            self.promise = promise
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = Int(head.status.code)
            case .body(let buffer):
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                promise.succeed((status, body))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(Failure(description: "the admin API closed the connection before answering"))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
