import Control
import Enode
import Mux
import NIOCore
import NIOPosix

/// `stockade connect PEER TARGET` (as `ssh -W` or `nc`): the CLI's control-socket connection,
/// handed over by the supervisor (ipc/PROTOCOL.md, ConnectStream), becomes the local end of one
/// session. One JSON status line first (the control socket's reply format, with the Mux.Cool
/// error code of a failed open), then the session's raw bytes both ways, half-closes carried.
extension StreamRouter {
    /// Adopts `fd` (a connected Unix stream socket, now ours) and opens TARGET on PEER for it.
    /// Whatever fails costs only this connection.
    public func connect(fd: CInt, peer: String, target: String, origin: String, earlyData: [UInt8]) {
        eventLoop.preconditionInEventLoop()
        let opened = ClientBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            // Not read until the session is open: the client waits for the status line anyway,
            // and its bytes must not reach a session that does not exist yet.
            .channelOption(ChannelOptions.autoRead, value: false)
            .withConnectedSocket(fd)
        opened.whenComplete { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let channel):
                self.startConnect(channel, peer: peer, target: target, origin: origin, earlyData: earlyData)
            case .failure(let error):
                // Wrapping a valid socket cannot fail (it only sets O_NONBLOCK); what can fail is
                // the registration, and then NIO has closed the socket with its channel.
                self.log("\(origin): cannot take the connection: \(error)")
            }
        }
    }

    private func startConnect(_ channel: Channel, peer: String, target: String, origin: String, earlyData: [UInt8]) {
        let peerID: [UInt8]
        let muxTarget: MuxTarget
        switch (entryPeer(peer), EntryListeners.target(target)) {
        case (.failure(let e), _), (_, .failure(let e)):
            log("\(origin): \(e)")
            let unknown: Bool
            if case .unknownPeer = e { unknown = true } else { unknown = false }
            // A prefix nothing matches is a peer that is not connected (nor static): the same
            // answer as a known peer that is down, so scripts see one code for both.
            let reply = unknown ? ControlReply(ok: false, error: e.description, muxError: MuxErrorCode.hostUnreachable.rawValue)
                : ControlReply(ok: false, error: e.description, usage: true)
            SOCKS5EntryHandler.writeThenClose(channel, ControlCoding.line(reply))
            return
        case (.success(let p), .success(let t)):
            peerID = p
            muxTarget = t
        }
        let stream = LocalStream(channel: channel, origin: origin)
        stream.readsPausedInitially()
        do { try channel.pipeline.syncOperations.addHandler(LocalStreamHandler(stream: stream)) } catch {
            channel.close(promise: nil)
            return
        }
        let shortPeer = Hex.encode(peerID).prefix(16)
        openEntry(stream, peer: peerID, target: muxTarget, initialData: earlyData, readEarly: false) { [weak self] code, why in
            guard let code else {
                // Written before any session data: the exit's first bytes follow the Accept.
                let line = ControlReply.success(ControlResult(message: "connected to \(target) on \(shortPeer)…"))
                channel.writeAndFlush(channel.allocator.buffer(bytes: ControlCoding.line(line)), promise: nil)
                stream.resumeReads()
                return
            }
            self?.log("\(origin): \(why)")
            let line = ControlReply(ok: false, error: why, muxError: code.rawValue)
            SOCKS5EntryHandler.writeThenClose(channel, ControlCoding.line(line))
        }
    }
}
