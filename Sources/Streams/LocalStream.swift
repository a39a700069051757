import Mux
import NIOCore
import NIOPosix

/// The local TCP socket of one session: the SOCKS5 or forward client at the entry, the target
/// at the exit. Confined to the peer manager's event loop, as is everything in this module.
///
/// Reads stop while the session's send queue is above `readHighWater` (its peer window is
/// spent, or the peer link is backed up) and resume below `readLowWater`, so a session buffers
/// at most about one read beyond the high water mark. Writes are counted until NIO completes
/// them; only then are the bytes "consumed" and returned to the peer in a window update, so a
/// local reader that stops reading stops its own session's window and nothing else.
final class LocalStream {
    /// Above this many queued bytes the socket is not read (64 KiB: four sender chunks).
    static let readHighWater = 64 * 1024
    static let readLowWater = 16 * 1024

    let channel: Channel
    /// Set once the session exists on the link.
    var sessionID: UInt16?
    weak var mux: PeerMux?
    /// What the operator sees in `stockade sessions` and the log: "socks5 127.0.0.1:5555" etc.
    let origin: String

    private(set) var readsPaused = false
    /// Bytes handed to NIO and not yet written to the socket.
    private(set) var pendingWriteBytes = 0
    private var shutOutputWhenWritten = false
    private var closeWhenWritten = false
    /// This side closed (or reset) the socket: its inactivity is not a failure to report.
    private(set) var closing = false
    private(set) var inputClosed = false
    /// The socket is closed (by either side).
    var gone = false
    private(set) var outputClosed = false
    /// Set on a client socket whose session runs on another event loop: its bytes and ends go
    /// there through the bridge instead of to a mux on this loop.
    var bridge: LoopBridge?
    /// Runs when this stream is reset (a bridged session's far end passes the reset on).
    var onReset: (() -> Void)?

    init(channel: Channel, origin: String) {
        self.channel = channel
        self.origin = origin
    }

    // MARK: reading

    /// The channel was created with autoRead off (its handler is added after it exists).
    func readsPausedInitially() { readsPaused = true }

    func pauseReads() {
        guard !readsPaused, !closing else { return }
        readsPaused = true
        _ = channel.setOption(ChannelOptions.autoRead, value: false)
    }

    func resumeReads() {
        guard readsPaused, !closing else { return }
        readsPaused = false
        _ = channel.setOption(ChannelOptions.autoRead, value: true)
        channel.read()
    }

    // MARK: writing

    /// Writes session data; `written` runs with the byte count once NIO has written it.
    func write(_ bytes: [UInt8], written: @escaping (Int) -> Void) {
        guard !closing, !outputClosed, !bytes.isEmpty else { return }
        let count = bytes.count
        pendingWriteBytes += count
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { [self] result in
            pendingWriteBytes -= count
            switch result {
            case .success:
                written(count)
                afterWrites()
            case .failure:
                // A failed write to the target ends the session with Error (the seed's rule).
                mux?.localFailed(self, .reset)
            }
        }
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: promise)
    }

    /// The peer finished its direction: shut our write side once the data is out.
    func shutOutputAfterWrites() {
        shutOutputWhenWritten = true
        afterWrites()
    }

    /// The session is over without error: close once the data is out.
    func closeAfterWrites() {
        closeWhenWritten = true
        afterWrites()
    }

    private func afterWrites() {
        guard pendingWriteBytes == 0, !closing else { return }
        if closeWhenWritten {
            close()
        } else if shutOutputWhenWritten && !outputClosed {
            outputClosed = true
            channel.close(mode: .output, promise: nil)
            if inputClosed { close() }
        }
    }

    /// Closes now (pending writes are dropped).
    func close() {
        guard !closing else { return }
        closing = true
        channel.close(promise: nil)
    }

    /// Closes with a TCP reset (SO_LINGER 0), so the local application sees the abort rather
    /// than an orderly EOF (End with Error: "the other side resets its end").
    func reset() {
        guard !closing else { return }
        closing = true
        onReset?()
        onReset = nil
        let channel = self.channel
        if let options = channel as? SocketOptionProvider {
            options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    func markInputClosed() {
        inputClosed = true
        if outputClosed { close() }
    }
}

/// The pipeline end of a `LocalStream`: bytes and EOF to the session, inactivity as a reset.
final class LocalStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let stream: LocalStream
    /// Runs once the socket is registered and active (a forward opens its session then).
    var onActive: (() -> Void)?

    init(stream: LocalStream, onActive: (() -> Void)? = nil) {
        self.stream = stream
        self.onActive = onActive
    }

    func channelActive(context: ChannelHandlerContext) {
        onActive?()
        onActive = nil
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let bridge = stream.bridge { return bridge.clientRead(buffer) }
        stream.mux?.localRead(stream, Array(buffer.readableBytesView))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            stream.markInputClosed()
            stream.bridge?.clientFinished()
            stream.mux?.localFinished(stream)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // With our output already shut, NIO turns the remote's EOF into a full close without an
        // inputClosed event (BaseStreamSocketChannel.close0, mode .input): that is the orderly
        // end of the other direction, so it finishes the session (Fin) instead of aborting it.
        if stream.outputClosed && !stream.inputClosed && !stream.closing {
            stream.markInputClosed()
            stream.bridge?.clientFinished()
            stream.mux?.localFinished(stream)
        }
        stream.gone = true
        stream.bridge?.clientClosed()
        stream.mux?.localClosed(stream)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        stream.bridge?.clientFailed()
        stream.mux?.localFailed(stream, .reset)
        stream.close()
    }
}
