import DevP2P
import NIOCore
import RLPxFrame

/// Runs one live peer on the peer manager's NIO loop, continuing the session the worker
/// started: decrypts frames (starting with the bytes the worker read past Hello), answers
/// Pings, pings every `pingInterval` (go-ethereum's pingInterval), drops the peer after
/// `readTimeout` without a frame (frameReadTimeout → ReadTimeout) or after `writeTimeout` of
/// stalled writes (frameWriteTimeout), and sends Disconnect with a reason before closing.
/// No public-key crypto happens here.
final class PeerChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Timeouts {
        var pingInterval: TimeAmount
        var readTimeout: TimeAmount
        var writeTimeout: TimeAmount
    }

    /// go-ethereum's discWriteTimeout: how long a Disconnect may take to be written.
    static let disconnectWriteTimeout: TimeAmount = .seconds(1)

    private var codec: FrameCodec
    private var messages: MessageCodec
    private let timeouts: Timeouts
    /// Called once when the peer is gone: the reason and whether the remote gave it.
    private let onClosed: (DisconnectReason, _ remoteRequested: Bool) -> Void
    private let onTraffic: (_ bytesIn: Int, _ bytesOut: Int) -> Void

    private var context: ChannelHandlerContext?
    private var lastRead: NIODeadline = .now()
    private var pingTask: RepeatedTask?
    private var unwritableSince: NIODeadline?
    private var closeReason: (DisconnectReason, Bool)?
    /// Set once the channel went inactive, with what was reported to `onClosed`. The run loop
    /// learns that adoption succeeded only after channelActive, so a peer closed during its
    /// activation (by a Disconnect among the bytes read past Hello) is reported before the run
    /// loop knows it; the run loop replays this then.
    private(set) var closedWith: (reason: DisconnectReason, remoteRequested: Bool)?
    private(set) var lastRTT: TimeAmount?
    private(set) var bytesIn: UInt64 = 0
    private(set) var bytesOut: UInt64 = 0
    private var pingSentAt: NIODeadline?
    private var lastPingSent: NIODeadline = .now()

    init(codec: FrameCodec, messages: MessageCodec, timeouts: Timeouts,
         onTraffic: @escaping (Int, Int) -> Void,
         onClosed: @escaping (DisconnectReason, Bool) -> Void) {
        self.codec = codec
        self.messages = messages
        self.timeouts = timeouts
        self.onTraffic = onTraffic
        self.onClosed = onClosed
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        lastRead = .now()
        // Checked every second (or faster with short test timeouts), so no timeout overshoots much.
        let tick = TimeAmount.nanoseconds(min(TimeAmount.seconds(1).nanoseconds, timeouts.pingInterval.nanoseconds / 2))
        lastPingSent = .now()
        pingTask = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [weak self] _ in
            self?.tick()
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        // Frames the worker read past Hello are already in the decoder. They are read only now:
        // handlerAdded runs before the adopted socket is registered, and a Disconnect among
        // them would close a channel NIO has not registered yet (an assertion in debug builds).
        drainFrames()
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pingTask?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        onTraffic(buffer.readableBytes, 0)
        bytesIn += UInt64(buffer.readableBytes)
        buffer.withUnsafeReadableBytes { codec.feed($0) }
        lastRead = .now()
        drainFrames()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        unwritableSince = context.channel.isWritable ? nil : .now()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let (reason, remote) = closeReason ?? (.networkError, false)
        closeReason = (reason, remote)
        closedWith = (reason, remote)
        pingTask?.cancel()
        onClosed(reason, remote)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closeReason == nil { closeReason = (.networkError, false) }
        context.close(promise: nil)
    }

    // MARK: protocol

    private func drainFrames() {
        guard let context, closeReason == nil else { return }
        while true {
            let frame: [UInt8]?
            do { frame = try codec.nextFrame() } catch {
                disconnect(.protocolError)
                return
            }
            guard let frame else { return }
            let message: Message
            do { message = try messages.decode(frame) } catch {
                disconnect(.protocolError)
                return
            }
            switch try? BaseProtocolMessage.decode(message) {
            case .ping:
                send(.pong, context: context)
            case .pong:
                if let sent = pingSentAt { lastRTT = .now() - sent }
                pingSentAt = nil
            case .disconnect(let reason):
                closeReason = (reason, true)
                context.close(promise: nil)
                return
            case .hello:
                // A second Hello is a protocol breach (go-ethereum: errProtocolReturned).
                disconnect(.protocolError)
                return
            default:
                // Capability messages (ids >= 0x10) belong to the mux layer, not yet here;
                // reserved base ids (0x04…0x0f) are ignored, as go-ethereum does.
                break
            }
        }
    }

    private func tick() {
        guard let context, closeReason == nil else { return }
        let now = NIODeadline.now()
        if now - lastRead >= timeouts.readTimeout {
            disconnect(.readTimeout)
            return
        }
        if let since = unwritableSince, now - since >= timeouts.writeTimeout {
            // Writes stalled: a Disconnect could not be written either.
            closeReason = (.networkError, false)
            context.close(promise: nil)
            return
        }
        if now - lastPingSent >= timeouts.pingInterval {
            lastPingSent = now
            pingSentAt = now
            send(.ping, context: context)
        }
    }

    /// Sends Disconnect(reason), then closes once it is written or after the write deadline.
    func disconnect(_ reason: DisconnectReason) {
        guard let context, closeReason == nil else { return }
        closeReason = (reason, false)
        let written = context.eventLoop.makePromise(of: Void.self)
        send(.disconnect(reason), context: context, promise: written)
        let channel = context.channel
        let deadline = context.eventLoop.scheduleTask(in: Self.disconnectWriteTimeout) { channel.close(promise: nil) }
        written.futureResult.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }

    private func send(_ message: BaseProtocolMessage, context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        do {
            let bytes = try codec.encode(try messages.encode(message.message))
            onTraffic(0, bytes.count)
            bytesOut += UInt64(bytes.count)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: promise)
        } catch {
            promise?.fail(error)
            closeReason = (.protocolError, false)
            context.close(promise: nil)
        }
    }
}
