#if canImport(Glibc)
import Glibc
#endif
import Mux
import NIOCore
import NIOPosix

/// An entry whose peer link runs on another event loop than the client's socket (the peer
/// manager spreads links over several loops; a SOCKS5 request names its peer only after the
/// socket is accepted, and NIO channels cannot move between loops).
///
/// The session's local socket on the link's loop is one end of a Unix socket pair; the
/// client's socket and the other end, both on the client's loop, are spliced. Bytes cross the
/// loops through the kernel, never through shared memory, so nothing in `PeerMux` or
/// `LocalStream` knows about loops. Backpressure holds end to end: the client is not read while
/// the pair's end is unwritable, the pair's end is not read while the client's writes are
/// above `LocalStream.readHighWater`, and the far end's unread bytes stop the session's window
/// as a slow local reader does. The pair's kernel buffers add at most one socket buffer each
/// way. Resets, which a Unix socket cannot carry, are passed as messages to the other loop.
///
/// The properties are split by loop: `near`, `client` and the flags on the client's loop;
/// `far` on the link's loop. Each side touches the other only through `execute`.
final class LoopBridge {
    private let client: LocalStream
    private let clientLoop: EventLoop
    private let linkLoop: EventLoop
    // Client's loop.
    private var near: Channel?
    private var opened = false
    private var done = false
    private var clientPausedForNear = false
    private var nearPausedForClient = false
    // Link's loop.
    private var far: LocalStream?

    private init(client: LocalStream, clientLoop: EventLoop, linkLoop: EventLoop) {
        self.client = client
        self.clientLoop = clientLoop
        self.linkLoop = linkLoop
    }

    /// Opens `target` on `peer` (whose mux lives on `remote`'s loop) for `stream` (on
    /// `local`'s loop); `reply` runs once, on the client's loop, as `StreamRouter.openEntry`'s.
    static func open(_ stream: LocalStream, from local: StreamRouter, to remote: StreamRouter, peer: [UInt8], target: MuxTarget,
                     initialData: [UInt8], readEarly: Bool, reply: @escaping (MuxErrorCode?, String) -> Void) {
        var fds: [CInt] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            local.counters.failed(.generalFailure)
            reply(.generalFailure, "cannot bridge to the link's event loop: \(String(cString: strerror(errno)))")
            return
        }
        let bridge = LoopBridge(client: stream, clientLoop: local.eventLoop, linkLoop: remote.eventLoop)
        stream.bridge = bridge
        let nearFD = fds[0], farFD = fds[1]
        ClientBootstrap(group: local.eventLoop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NearHandler(bridge: bridge)) }
            }
            .withConnectedSocket(nearFD)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    bridge.near = channel
                    if bridge.done { return channel.close(promise: nil) }
                    if readEarly { stream.resumeReads() }
                    remote.eventLoop.execute {
                        bridge.openFar(farFD, on: remote, peer: peer, target: target, initialData: initialData, readEarly: readEarly,
                                       origin: stream.origin, reply: reply)
                    }
                case .failure(let error):
                    // NIO closed the near end with its channel; the far end is still ours.
                    close(farFD)
                    stream.bridge = nil
                    local.counters.failed(.generalFailure)
                    reply(.generalFailure, "cannot bridge to the link's event loop: \(error)")
                }
            }
    }

    /// On the link's loop: the far end becomes the session's local socket there.
    private func openFar(_ fd: CInt, on remote: StreamRouter, peer: [UInt8], target: MuxTarget, initialData: [UInt8],
                         readEarly: Bool, origin: String, reply: @escaping (MuxErrorCode?, String) -> Void) {
        ClientBootstrap(group: remote.eventLoop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.autoRead, value: false)
            .withConnectedSocket(fd)
            .whenComplete { [self] result in
                let channel: Channel
                switch result {
                case .success(let c): channel = c
                case .failure(let error):
                    clientLoop.execute { [self] in answer(.generalFailure, "cannot bridge to the link's event loop: \(error)", reply) }
                    return
                }
                let stream = LocalStream(channel: channel, origin: origin)
                stream.readsPausedInitially()
                do { try channel.pipeline.syncOperations.addHandler(LocalStreamHandler(stream: stream)) } catch {
                    channel.close(promise: nil)
                    clientLoop.execute { [self] in answer(.generalFailure, "cannot set up the bridge: \(error)", reply) }
                    return
                }
                far = stream
                // Weak: the far stream outlives no one, and a strong bridge here would be a cycle
                // (bridge → far → bridge) that an orderly close never breaks.
                let clientLoop = self.clientLoop
                stream.onReset = { [weak self] in clientLoop.execute { self?.farReset() } }
                remote.openEntry(stream, peer: peer, target: target, initialData: initialData, readEarly: readEarly) { [self] code, why in
                    // The answer is posted before the pair can close, so the client's loop runs
                    // it before it sees the pair's end.
                    clientLoop.execute { [self] in answer(code, why, reply) }
                    if code != nil {
                        stream.onReset = nil
                        stream.close()
                    } else {
                        // Open: the client's bytes waiting in the pair go to the session now (a
                        // forward's were read early already).
                        stream.resumeReads()
                    }
                }
            }
    }

    // MARK: client's loop

    private func answer(_ code: MuxErrorCode?, _ why: String, _ reply: (MuxErrorCode?, String) -> Void) {
        guard !done else { return }
        if let code {
            done = true
            client.bridge = nil
            near?.close(promise: nil)
            reply(code, why)
            return
        }
        opened = true
        // The caller's answer (a SOCKS5 reply, `connect`'s status line) goes out before any byte
        // of the session, so the pair is read only from now on.
        reply(nil, "")
        if let near {
            _ = near.setOption(ChannelOptions.autoRead, value: true)
            near.read()
        }
    }

    func clientRead(_ buffer: ByteBuffer) {
        guard let near, !done else { return }
        near.writeAndFlush(buffer, promise: nil)
        if !near.isWritable {
            clientPausedForNear = true
            client.pauseReads()
        }
    }

    func clientFinished() {
        guard !done else { return }
        near?.close(mode: .output, promise: nil)
    }

    /// The client's socket closed. In order (both directions ended, so `LocalStream` closed it)
    /// only the pair's output is shut, once what the client sent is written (a full close would
    /// drop it), and the pair closes when the far end does; otherwise the client failed, and so
    /// does the session.
    func clientClosed() {
        guard !done else { return }
        done = true
        client.bridge = nil
        if client.closing {
            near?.close(mode: .output, promise: nil)
            return
        }
        linkLoop.execute { [self] in
            guard let far else { return }
            far.onReset = nil
            far.mux?.localFailed(far, .reset)
            far.reset()
        }
        near?.close(promise: nil)
    }

    func clientFailed() { clientClosed() }

    /// The session was reset at the link's loop: reset the client too.
    private func farReset() {
        guard !done else { return }
        done = true
        client.bridge = nil
        client.reset()
        near?.close(promise: nil)
    }

    fileprivate func nearRead(_ buffer: ByteBuffer) {
        guard !done else { return }
        client.write(Array(buffer.readableBytesView)) { [self] _ in
            if nearPausedForClient && client.pendingWriteBytes < LocalStream.readLowWater, let near {
                nearPausedForClient = false
                _ = near.setOption(ChannelOptions.autoRead, value: true)
                near.read()
            }
        }
        if client.pendingWriteBytes >= LocalStream.readHighWater, let near {
            nearPausedForClient = true
            _ = near.setOption(ChannelOptions.autoRead, value: false)
        }
    }

    fileprivate func nearWritable() {
        if clientPausedForNear {
            clientPausedForNear = false
            client.resumeReads()
        }
    }

    /// The pair's end is seen as I/O, which NIO handles before the tasks of the same turn; a
    /// message the link's loop posted before the pair ended (the open's answer, a reset) must be
    /// handled first, so the end waits behind it as a task of its own.
    fileprivate func nearFinished() {
        clientLoop.execute { [self] in
            guard !done else { return }
            client.shutOutputAfterWrites()
        }
    }

    fileprivate func nearClosed() {
        clientLoop.execute { [self] in
            guard !done else { return }
            done = true
            client.bridge = nil
            client.closeAfterWrites()
        }
    }
}

/// The client's loop's end of the pair.
private final class NearHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let bridge: LoopBridge

    init(bridge: LoopBridge) { self.bridge = bridge }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { bridge.nearRead(unwrapInboundIn(data)) }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { bridge.nearWritable() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { bridge.nearFinished() }
    }

    func channelInactive(context: ChannelHandlerContext) { bridge.nearClosed() }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

extension LoopBridge {
    /// A UDP entry session whose peer link runs on `remote`'s loop: a stand-in session there
    /// carries its datagrams, each crossing loops as a message (datagrams have no stream to
    /// splice and no backpressure to keep).
    static func openDatagrams(_ session: UDPEntrySession, from local: StreamRouter, to remote: StreamRouter, peer: [UInt8],
                              target: MuxTarget, first: [UInt8]) {
        let home = local.eventLoop
        let stand = UDPEntrySession(target: target, onReply: { [weak session] bytes, address in
            home.execute { session?.received(bytes, address: address) }
        }, onClosed: { [weak session] code in
            home.execute { session?.sessionClosed(code) }
        })
        session.remote = (remote.eventLoop, stand)
        remote.eventLoop.execute { remote.openDatagramEntry(peer: peer, target: target, first: first, session: stand) }
    }
}
