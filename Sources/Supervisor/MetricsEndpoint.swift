import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PollLoop
import Sockets

/// The Prometheus endpoint: `GET /metrics` (or `/`) answers the text exposition, other paths
/// 404, other methods 405, malformed requests 400. It runs swift-nio's HTTP/1 pipeline on an
/// event loop thread of its own, so slow or idle clients cost that thread a socket each and
/// never the supervisor's loop; only rendering the exposition runs on the supervisor's loop
/// (the metrics and the children's counters live there).
///
/// A client has `requestReadTimeout` to send its whole request (Apache's RequestReadTimeout,
/// nginx's client_header_timeout): a slowloris that trickles bytes is cut off then, as one that
/// sends nothing. `maximumClients` connections at once; beyond that new ones are
/// closed at once, which a scraper retries.
final class MetricsEndpoint {
    static let requestReadTimeout: TimeAmount = .seconds(5)
    /// Far more than the 8 slots a handful of slow clients could fill before, still bounded by
    /// what the supervisor's fd limit can spare.
    static let maximumClients = 512

    let address: Sockets.SocketAddress
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel: Channel

    /// `body` is called on `loop`'s thread for each scrape.
    init(address: Sockets.SocketAddress, loop: PollLoop, body: @escaping () -> [UInt8]) throws {
        let render = Renderer(loop: loop, body: body)
        let clients = NIOLockedValueBox(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let admitted = clients.withLockedValue { count -> Bool in
                    guard count < Self.maximumClients else { return false }
                    count += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in clients.withLockedValue { $0 -= 1 } }
                return channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(MetricsHTTPHandler(render: render))
                }
            }
        do {
            channel = try bootstrap.bind(host: address.ipString, port: Int(address.port)).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        renderer = render
        let bound = channel.localAddress
        self.address = bound.flatMap { a in a.ipAddress.flatMap { ip in a.port.flatMap { Sockets.SocketAddress(ip: ip, port: UInt16($0)) } } } ?? address
    }

    private var renderer: Renderer?

    func shutdown() {
        renderer?.stop()
        _ = try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Renders the exposition on the supervisor's loop and hands the bytes back to NIO's.
private final class Renderer: @unchecked Sendable {
    // Both are used only on the supervisor loop's thread (through `loop.execute`).
    private let loop: PollLoop
    private let body: () -> [UInt8]

    init(loop: PollLoop, body: @escaping () -> [UInt8]) {
        self.loop = loop
        self.body = body
    }

    private var stopped = false

    /// Before the NIO loop shuts down: no answer is handed to it any more (a task scheduled
    /// on a shut-down event loop is an error in NIO). Called on the supervisor loop's thread.
    func stop() { stopped = true }

    /// Calls `done` on `eventLoop` with the exposition, unless the endpoint was shut down
    /// meanwhile (the connection is then closed with its channel).
    func render(on eventLoop: EventLoop, _ done: @escaping @Sendable ([UInt8]) -> Void) {
        loop.execute { [self] in
            guard !stopped else { return }
            let bytes = body()
            eventLoop.execute { done(bytes) }
        }
    }
}

private final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: Renderer
    private var deadline: Scheduled<Void>?
    private var request: HTTPRequestHead?

    init(render: Renderer) { self.render = render }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: MetricsEndpoint.requestReadTimeout) { bound.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break   // a scrape has no body; whatever comes is not buffered
        case .end:
            guard let head = request else { return }
            request = nil
            // The request is complete: the slowloris deadline has done its job.
            deadline?.cancel()
            answer(head, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard head.method == .GET || head.method == .HEAD else {
            return respond(context, .methodNotAllowed, Array("GET /metrics\n".utf8), head: head)
        }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard path == "/metrics" || path == "/" else {
            return respond(context, .notFound, Array("try /metrics\n".utf8), head: head)
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        render.render(on: context.eventLoop) { bytes in
            let (handler, context) = bound.value
            handler.respond(context, .ok, bytes, head: head)
        }
    }

    /// One response, then close (one request per connection, as Prometheus copes with).
    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ body: [UInt8], head: HTTPRequestHead) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
