import Enode
import Mux
import NIOCore
import NIOPosix
import NodeConfig
import SOCKS5

/// One UDP session at the entry, owned by a SOCKS5 UDP association or a UDP forward's client:
/// datagrams go out on it (those before the exit's answer wait in the link's bounded queue),
/// replies come back to `onReply`.
final class UDPEntrySession: DatagramEndpoint {
    weak var mux: PeerMux?
    var id: UInt16?
    /// The New's destination; a datagram to it names no address in its frame.
    let target: MuxTarget
    let onReply: ([UInt8], MuxTarget?) -> Void
    let onClosed: (MuxErrorCode?) -> Void
    private(set) var ended = false
    var lastActivity = NIODeadline.now()

    init(target: MuxTarget, onReply: @escaping ([UInt8], MuxTarget?) -> Void, onClosed: @escaping (MuxErrorCode?) -> Void) {
        self.target = target
        self.onReply = onReply
        self.onClosed = onClosed
    }

    /// When the peer's link runs on another event loop: that loop and the session there that
    /// stands for this one (touched only on that loop).
    var remote: (loop: EventLoop, session: UDPEntrySession)?

    func send(_ bytes: [UInt8], to destination: MuxTarget) {
        guard !ended else { return }
        if let remote {
            lastActivity = .now()
            remote.loop.execute { remote.session.send(bytes, to: destination) }
            return
        }
        guard let mux, let id else { return }
        lastActivity = .now()
        mux.sendDatagram(id, bytes, address: destination == target ? nil : destination)
    }

    func received(_ bytes: [UInt8], address: MuxTarget?) {
        lastActivity = .now()
        onReply(bytes, address)
    }

    func sessionClosed(_ code: MuxErrorCode?) {
        guard !ended else { return }
        ended = true
        onClosed(code)
    }

    /// This side is done with it (the association closed, or it sat idle).
    func close() {
        guard !ended else { return }
        ended = true
        if let remote { remote.loop.execute { remote.session.close() } }
        if let mux, let id { mux.closeDatagrams(id) }
    }
}

extension StreamRouter {
    /// Opens a UDP session to `target` on `peer` whose first datagram is `first` (waiting for
    /// a static peer's dial as streams do); `session.onClosed` hears a failure.
    func openDatagramEntry(peer: [UInt8], target: MuxTarget, first: [UInt8], session: UDPEntrySession) {
        let deadline = NIODeadline.now() + .milliseconds(Int64(settings.openTimeoutMs))
        withPeer(peer, deadline: deadline) { [weak self, weak session] place in
            guard let self, let session, !session.ended else { return }
            let mux: PeerMux
            switch place {
            case .absent:
                self.counters.failed(.hostUnreachable)
                self.debug("UDP to \(target) on peer \(Hex.encode(peer).prefix(16))…: the peer is not connected")
                return session.sessionClosed(.hostUnreachable)
            case .elsewhere(let router):
                return LoopBridge.openDatagrams(session, from: self, to: router, peer: peer, target: target, first: first)
            case .here(let here):
                mux = here
            }
            session.mux = mux
            session.id = mux.openDatagrams(target, for: session, first: first, deadline: deadline) { [weak self] code in
                guard let code else { return }
                self?.counters.failed(code)
                self?.debug("UDP to \(target) on peer \(mux.shortID)…: \(code)")
                session.sessionClosed(code)
            }
            if session.id == nil { session.sessionClosed(.tooManySessions) }
        }
    }

    /// Ends the UDP sessions idle past `[mux] udp_idle_timeout_ms` (v2ray's connIdle): the
    /// exits' sockets and the entries' sessions. Runs once a second.
    func sweepIdleDatagrams() {
        let limit = NIODeadline.now() - .milliseconds(Int64(settings.udpIdleTimeoutMs))
        for exit in udpExits.values where exit.lastActivity < limit { exit.expire() }
        for entry in udpEntries.values { entry.expire(idleSince: limit) }
    }
}

/// Whatever holds entry UDP sessions and must drop its idle ones.
protocol UDPEntryOwner: AnyObject {
    func expire(idleSince limit: NIODeadline)
}

// MARK: SOCKS5 UDP ASSOCIATE

/// A SOCKS5 UDP association (RFC 1928 section 7): a relay socket beside the client's TCP
/// connection, which it lives and dies with. Each datagram names its destination in the SOCKS5
/// UDP header; `<service>.<id>.stk` names reach that peer's service, others go to the default
/// exit. One session per peer carries every destination there, each datagram naming its own.
final class SOCKS5UDPAssociation: UDPEntryOwner {
    unowned let router: StreamRouter
    let config: NodeConfig.Socks5
    /// Where the client said it would send from (zero address or port: not yet known).
    private var client: NIOCore.SocketAddress?
    private let clientIP: String?
    private let expectedPort: Int
    private var relay: Channel?
    private var sessions: [[UInt8]: UDPEntrySession] = [:]
    /// How the client wrote each destination, per peer, to answer in the same form: two peers
    /// may offer the same service name, so a reply's name is looked up by the peer it came from.
    private var names: [PeerTarget: (address: SOCKS5Address, port: UInt16)] = [:]
    private struct PeerTarget: Hashable {
        let peer: [UInt8]
        let target: MuxTarget
    }
    private var closed = false

    init(router: StreamRouter, config: NodeConfig.Socks5, tcpClient: NIOCore.SocketAddress?, request: SOCKS5Request) {
        self.router = router
        self.config = config
        clientIP = tcpClient?.ipAddress
        expectedPort = Int(request.port)
    }

    /// Binds the relay next to the SOCKS5 listener's address; `ready` gets its address, or nil.
    func start(localIP: String, ready: @escaping (NIOCore.SocketAddress?) -> Void) {
        DatagramBootstrap(group: router.eventLoop)
            .readingWholeDatagrams(header: SOCKS5UDPAssociation.largestHeader)
            .channelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPReceiveHandler { [weak self] in self?.fromClient($0, $1) })
                }
            }
            .bind(host: localIP, port: 0)
            .whenComplete { result in
                guard case .success(let channel) = result, !self.closed else {
                    if case .success(let channel) = result { channel.close(promise: nil) }
                    return ready(nil)
                }
                self.relay = channel
                self.router.udpEntries[ObjectIdentifier(self)] = self
                ready(channel.localAddress)
            }
    }

    private func fromClient(_ datagram: [UInt8], _ source: NIOCore.SocketAddress) {
        guard !closed else { return }
        // Only the client that asked may use the relay (RFC 1928 section 7): its IP, and its
        // port once known (from the request, or its first datagram).
        guard source.ipAddress == clientIP, expectedPort == 0 || source.port == expectedPort,
              client == nil || client == source else { return drop() }
        client = source
        guard let (address, port, payload) = Self.parse(datagram) else { return drop() }
        guard payload.count <= MuxLimits.maxDatagram else { return drop() }
        let peer: [UInt8]
        let target: MuxTarget
        if case .domain(let name) = address, let stk = StkName(name) {
            guard case .success(let p) = router.resolvePeer(stk.peerPrefix) else { return drop() }
            peer = p
            target = MuxTarget(network: .udp, address: .domain(stk.service), port: 0)
        } else {
            guard let exit = Hex.decode(Array(config.defaultExit.utf8)), exit.count == 64 else { return drop() }
            peer = exit
            target = MuxTarget(network: .udp, address: address.muxAddress, port: port)
        }
        let key = PeerTarget(peer: peer, target: target)
        if names[key] == nil, names.count < UDPExit.maxDestinations { names[key] = (address, port) }
        if let session = sessions[peer], !session.ended {
            session.send(payload, to: target)
            return
        }
        let session = UDPEntrySession(target: target,
                                      onReply: { [weak self] bytes, from in self?.toClient(bytes, from: from ?? target, peer: peer) },
                                      onClosed: { [weak self] _ in self?.sessions[peer] = nil })
        sessions[peer] = session
        router.openDatagramEntry(peer: peer, target: target, first: payload, session: session)
    }

    private func toClient(_ bytes: [UInt8], from source: MuxTarget, peer: [UInt8]) {
        guard !closed, let relay, let client else { return }
        let (address, port) = names[PeerTarget(peer: peer, target: source)] ?? (SOCKS5Address(source.address), source.port)
        var datagram: [UInt8] = [0, 0, 0]
        datagram += SOCKS5ServerHandshake.reply(.succeeded, bound: address, port: port).dropFirst(3)
        datagram += bytes
        relay.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: relay.allocator.buffer(bytes: datagram)), promise: nil)
    }

    /// The longest SOCKS5 UDP request header: a 255-byte domain.
    static let largestHeader = 4 + 1 + 255 + 2

    /// `00 00 frag atyp addr port data`; nil for a fragment (frag != 0: dropped, as RFC 1928
    /// allows) or a malformed header.
    static func parse(_ d: [UInt8]) -> (SOCKS5Address, UInt16, [UInt8])? {
        guard d.count >= 4, d[0] == 0, d[1] == 0, d[2] == 0 else { return nil }
        var at = 4
        let address: SOCKS5Address
        switch d[3] {
        case 0x01:
            guard d.count >= at + 6 else { return nil }
            address = .ipv4(Array(d[at..<at + 4]))
            at += 4
        case 0x04:
            guard d.count >= at + 18 else { return nil }
            address = .ipv6(Array(d[at..<at + 16]))
            at += 16
        case 0x03:
            guard d.count > at else { return nil }
            let n = Int(d[at])
            guard n > 0, d.count >= at + 1 + n + 2 else { return nil }
            let name = d[at + 1..<at + 1 + n]
            guard name.allSatisfy({ (0x21...0x7e).contains($0) }) else { return nil }
            address = .domain(String(decoding: name, as: UTF8.self))
            at += 1 + n
        default:
            return nil
        }
        let port = UInt16(d[at]) << 8 | UInt16(d[at + 1])
        return (address, port, Array(d[(at + 2)...]))
    }

    private func drop() { router.counters.datagramsDropped += 1 }

    func expire(idleSince limit: NIODeadline) {
        for (peer, session) in sessions where session.lastActivity < limit {
            session.close()
            sessions[peer] = nil
        }
    }

    /// The TCP connection closed: the association and its sessions end.
    func close() {
        guard !closed else { return }
        closed = true
        for session in sessions.values { session.close() }
        sessions.removeAll()
        relay?.close(promise: nil)
        router.udpEntries[ObjectIdentifier(self)] = nil
    }
}

// MARK: UDP forwards

/// A `[[forward]]` with `network = "udp"`: datagrams to the listen address go to the target on
/// the peer, one session per client address, replies back to that client.
final class UDPForward: UDPEntryOwner {
    unowned let router: StreamRouter
    let peer: [UInt8]
    let target: MuxTarget
    private var channel: Channel?
    private var clients: [NIOCore.SocketAddress: UDPEntrySession] = [:]
    /// Clients one forward serves at once; past it, new clients' datagrams are dropped.
    static let maxClients = 1024

    init(router: StreamRouter, peer: [UInt8], target: MuxTarget) {
        self.router = router
        self.peer = peer
        self.target = MuxTarget(network: .udp, address: target.address, port: target.port)
    }

    func start(fd: CInt) -> EventLoopFuture<Channel> {
        let bound = DatagramBootstrap(group: router.eventLoop)
            .readingWholeDatagrams()
            .channelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPReceiveHandler { [weak self] in self?.fromClient($0, $1) })
                }
            }
            .withBoundSocket(fd)
        bound.whenSuccess { [weak self] channel in
            guard let self else { return }
            self.channel = channel
            self.router.udpEntries[ObjectIdentifier(self)] = self
            channel.closeFuture.whenComplete { [weak self] _ in self?.stop() }
        }
        return bound
    }

    private func fromClient(_ bytes: [UInt8], _ source: NIOCore.SocketAddress) {
        guard bytes.count <= MuxLimits.maxDatagram else { return router.counters.datagramsDropped += 1 }
        if let session = clients[source], !session.ended {
            session.send(bytes, to: target)
            return
        }
        guard clients.count < Self.maxClients else { return router.counters.datagramsDropped += 1 }
        let session = UDPEntrySession(target: target, onReply: { [weak self] reply, _ in
            guard let channel = self?.channel else { return }
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: source, data: channel.allocator.buffer(bytes: reply)), promise: nil)
        }, onClosed: { [weak self] _ in self?.clients[source] = nil })
        clients[source] = session
        router.openDatagramEntry(peer: peer, target: target, first: bytes, session: session)
    }

    func expire(idleSince limit: NIODeadline) {
        for (client, session) in clients where session.lastActivity < limit {
            session.close()
            clients[client] = nil
        }
    }

    func stop() {
        for session in clients.values { session.close() }
        clients.removeAll()
        router.udpEntries[ObjectIdentifier(self)] = nil
    }
}

extension SOCKS5Address {
    /// The address a Mux New or Keep frame carries for it.
    var muxAddress: MuxAddress {
        switch self {
        case .ipv4(let b): return .ipv4(b)
        case .ipv6(let b): return .ipv6(b)
        case .domain(let d): return .domain(d)
        }
    }

    init(_ address: MuxAddress) {
        switch address {
        case .ipv4(let b): self = .ipv4(b)
        case .ipv6(let b): self = .ipv6(b)
        case .domain(let d): self = .domain(d)
        }
    }
}
