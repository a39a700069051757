import DevP2P
import NIOCore
import RLPxFrame
import Streams

/// Runs one live peer on the peer manager's NIO loop, continuing the session the worker
/// started: decrypts frames (starting with the bytes the worker read past Hello), answers
/// Pings, pings every `pingInterval` (go-ethereum's pingInterval), drops the peer after
/// `readTimeout` without a frame (frameReadTimeout → ReadTimeout) or after `writeTimeout` of
/// stalled writes (frameWriteTimeout), and sends Disconnect with a reason before closing.
/// No public-key crypto happens here.
///
/// Reading stops while the peer's writes are backed up (NIO's write-buffer high watermark):
/// a peer that floods Pings, opens, or anything else and never reads our answers stops being
/// read, so its output is bounded (go-ethereum GHSA-ppjg-v974-84cm). Messages of the `stk`
/// capability go to the peer's mux; an id outside every shared capability is a protocol
/// error (go-ethereum: "msg code out of range").
final class PeerChannelHandler: ChannelInboundHandler, MuxTransport {
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
    /// The capabilities both sides run, for dispatching message ids >= 0x10.
    private let shared: SharedCapabilities
    /// The streams of this link, once the run loop has made them.
    var mux: PeerMux?
    /// Reading is off while the peer's writes are backed up.
    private(set) var readPaused = false
    private(set) var readPauses: UInt64 = 0

    init(codec: FrameCodec, messages: MessageCodec, shared: SharedCapabilities, timeouts: Timeouts,
         onTraffic: @escaping (Int, Int) -> Void,
         onClosed: @escaping (DisconnectReason, Bool) -> Void) {
        self.codec = codec
        self.messages = messages
        self.shared = shared
        self.timeouts = timeouts
        self.onTraffic = onTraffic
        self.onClosed = onClosed
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        lastRead = .now()
        lastPingSent = .now()
    }

    func channelActive(context: ChannelHandlerContext) {
        // Frames the worker read past Hello are already in the decoder. They are read only now:
        // handlerAdded runs before the adopted socket is registered, and a Disconnect among
        // them would close a channel NIO has not registered yet (an assertion in debug builds).
        drainFrames()
        // A first round trip now, so the mux's window tuning has an RTT within a moment.
        if closeReason == nil {
            pingSentAt = .now()
            send(.ping, context: context)
        }
        context.fireChannelActive()
        // Opens waiting for this peer (a static node's dial) were queued before it was writable.
        mux?.transportWritable()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
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
        guard context.channel.isWritable else {
            unwritableSince = .now()
            return
        }
        unwritableSince = nil
        if readPaused {
            readPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            drainFrames()
            context.read()
        }
        mux?.transportWritable()
    }

    /// Stops reading until the peer takes what we have written.
    private func pauseReading(_ context: ChannelHandlerContext) {
        guard !readPaused else { return }
        readPaused = true
        readPauses += 1
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let (reason, remote) = closeReason ?? (.networkError, false)
        closeReason = (reason, remote)
        closedWith = (reason, remote)
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
            // Every answer (Pong, window update, End, data) waits behind what is unwritten:
            // read nothing more until the peer drains it.
            guard context.channel.isWritable else {
                pauseReading(context)
                return
            }
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
                if let sent = pingSentAt {
                    let rtt = NIODeadline.now() - sent
                    lastRTT = rtt
                    mux?.rttMeasured(.nanoseconds(rtt.nanoseconds))
                }
                pingSentAt = nil
            case .disconnect(let reason):
                closeReason = (reason, true)
                context.close(promise: nil)
                return
            case .hello:
                // A second Hello is a protocol breach (go-ethereum: errProtocolReturned).
                disconnect(.protocolError)
                return
            case .none where message.id >= BaseProtocol.length:
                guard let (capability, relativeID) = shared.capability(forMessageID: message.id),
                      capability.capability.name == StockadeProtocol.capability.name else {
                    // go-ethereum's Peer.handle: "msg code out of range".
                    disconnect(.protocolError)
                    return
                }
                if let mux { mux.receive(messageID: relativeID, payload: message.payload) } else { disconnect(.protocolError) }
                if closeReason != nil { return }
            default:
                // Reserved base ids (0x04…0x0f) are ignored, as go-ethereum does.
                break
            }
        }
    }

    /// The peer's timeouts and pings, called by the run loop's one sweep over every peer
    /// (`PeerRunLoop.sweepInterval`): no timer per peer, so 10,000 idle peers cost one task.
    func tick() {
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
        if now - lastPingSent >= timeouts.pingInterval
            || (mux?.hasSessions == true && pingSentAt == nil && now - lastPingSent >= Self.rttProbeInterval) {
            lastPingSent = now
            pingSentAt = now
            send(.ping, context: context)
        }
    }

    /// While sessions are open the round trip is measured this often, under their load: the
    /// windows' auto-tuning needs the loaded RTT, not the idle one of the first Ping.
    static let rttProbeInterval: TimeAmount = .seconds(1)

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

    // MARK: MuxTransport

    var isWritable: Bool { context?.channel.isWritable ?? false }

    /// Writes one `stk` message without flushing; the mux flushes after its batch.
    func sendMux(id: UInt64, payload: [UInt8]) {
        guard let context, closeReason == nil, let offset = shared.capability(named: StockadeProtocol.capability.name)?.offset else { return }
        do {
            let bytes = try codec.encode(try messages.encode(Message(id: offset + id, payload: payload)))
            onTraffic(0, bytes.count)
            bytesOut += UInt64(bytes.count)
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        } catch {
            closeReason = (.protocolError, false)
            context.close(promise: nil)
        }
    }

    func flushMux() { context?.flush() }

    func muxProtocolError(_ why: String) { disconnect(.protocolError) }
}
