import Enode
import ExitPolicy
import Mux
import NIOCore
import NIOPosix

/// The exit's side of one UDP session: one UDP socket, datagrams sent to each destination the
/// allowlist admits (checked per destination, names resolved once, off the loop), replies
/// relayed back named as the opener named their destination. Only addresses this session sent
/// to may answer (a port-restricted cone), so the socket is no open relay either.
final class UDPExit: DatagramEndpoint {
    /// How one destination, as the opener named it, was judged.
    enum Verdict {
        case send(NIOCore.SocketAddress)
        case resolving([[UInt8]])
        case denied
    }

    unowned let router: StreamRouter
    weak var mux: PeerMux?
    let id: UInt16
    /// The New's destination: datagrams whose frame names none go there.
    let target: MuxTarget
    private var channel: Channel?
    private var verdicts: [MuxTarget: Verdict] = [:]
    /// Real source addresses that may answer, with the name the opener used for them.
    private var repliesFrom: [NIOCore.SocketAddress: MuxTarget] = [:]
    private(set) var lastActivity = NIODeadline.now()
    private var closed = false
    /// The socket is IPv6 with IPV6_V6ONLY off: IPv4 destinations go to their v4-mapped form.
    private var dualStack = false

    /// Destinations remembered per session (a DNS client asking many servers, a game): past
    /// this, datagrams to new ones are dropped rather than the table grown.
    static let maxDestinations = 256
    /// Datagrams held per destination while its name resolves.
    static let maxWhileResolving = 16

    init(router: StreamRouter, mux: PeerMux, id: UInt16, target: MuxTarget) {
        self.router = router
        self.mux = mux
        self.id = id
        self.target = target
    }

    /// Binds the session's socket, any port, then tells the link the session is open. One
    /// dual-stack IPv6 socket (IPV6_V6ONLY off, RFC 3493 section 5.3) serves destinations of
    /// both families, since a session's later datagrams may name either, whatever the New's
    /// was; IPv4 ones are sent to their v4-mapped address (::ffff:a.b.c.d) and answer from it.
    /// Where IPv6 is off (no `::` to bind), an IPv4 socket serves the IPv4 destinations alone.
    func start() {
        router.udpExits[ObjectIdentifier(self)] = self
        bind(dualStack: true)
    }

    private func bind(dualStack: Bool) {
        var bootstrap = DatagramBootstrap(group: router.eventLoop)
            .readingWholeDatagrams()
            .channelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let self { try channel.pipeline.syncOperations.addHandler(UDPReceiveHandler { [weak self] in self?.reply($0, from: $1) }) }
                }
            }
        if dualStack {
            bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 0)
        }
        bootstrap.bind(host: dualStack ? "::" : "0.0.0.0", port: 0)
            .whenComplete { result in
                // Held until the bind completes, so a socket bound after the session ended is closed.
                switch result {
                case .success(let channel):
                    guard !self.closed, let mux = self.mux else {
                        self.router.udpExits[ObjectIdentifier(self)] = nil
                        channel.close(promise: nil)
                        return
                    }
                    self.channel = channel
                    self.dualStack = dualStack
                    mux.exitDatagramsReady(self.id, endpoint: self)
                case .failure(let error) where dualStack:
                    self.router.debug("UDP session \(self.id): no IPv6 socket (\(error)); IPv4 destinations only")
                    self.bind(dualStack: false)
                case .failure(let error):
                    self.router.udpExits[ObjectIdentifier(self)] = nil
                    self.mux?.exitFailed(self.id, .generalFailure)
                    self.router.debug("UDP session \(self.id): no socket: \(error)")
                }
            }
    }

    // MARK: from the peer

    func received(_ bytes: [UInt8], address: MuxTarget?) {
        guard !closed else { return }
        lastActivity = .now()
        let destination = address ?? target
        switch verdicts[destination] {
        case .send(let to)?:
            // Two names for one address (a service and its IP:port): replies take the name
            // last sent to, as a request's answer should.
            repliesFrom[to] = destination
            send(bytes, to: to)
        case .resolving(var held)?:
            if held.count < Self.maxWhileResolving { held.append(bytes) } else { drop() }
            verdicts[destination] = .resolving(held)
        case .denied?:
            drop()
        case nil:
            guard verdicts.count < Self.maxDestinations else { return drop() }
            judge(destination, first: bytes)
        }
    }

    /// The allowlist's word on a destination, once; a name is resolved and its addresses checked.
    private func judge(_ destination: MuxTarget, first: [UInt8]) {
        guard let mux, let exitTarget = ExitTarget.from(host: destination.address.hostText, port: destination.port) else {
            verdicts[destination] = .denied
            return drop()
        }
        let trusted = router.hooks.isTrusted(mux.nodeID)
        switch router.policy.decide(peer: mux.nodeID, trusted: trusted, target: exitTarget) {
        case .deny(let reason):
            verdicts[destination] = .denied
            router.counters.opensDenied += 1
            router.log("denied: peer \(mux.shortID)… UDP session \(id) to \(destination): \(reason)")
            router.hooks.denied(mux.nodeID, mux.peerAddress, "udp \(destination)", reason)
            drop()
        case .connect(let ip, let port):
            admit(destination, ip, port, first: [first])
        case .resolve(let name, let port, let byName):
            verdicts[destination] = .resolving([first])
            ExitConnector.resolve(name, on: router.eventLoop) { [weak self] resolved in
                guard let self, let mux = self.mux, case .resolving(let held)? = self.verdicts[destination] else { return }
                let admitted = self.router.policy.admit(peer: mux.nodeID, trusted: self.router.hooks.isTrusted(mux.nodeID), name: name,
                                                        port: port, resolved: resolved, allowedByName: byName)
                guard let ip = admitted.first else {
                    self.verdicts[destination] = .denied
                    self.router.debug("UDP session \(self.id): \(name) resolves to no allowed address")
                    held.forEach { _ in self.drop() }
                    return
                }
                self.admit(destination, ip, port, first: held)
            }
        }
    }

    private func admit(_ destination: MuxTarget, _ ip: IPAddress, _ port: UInt16, first: [[UInt8]]) {
        // On the dual-stack socket an IPv4 peer is ::ffff:a.b.c.d both ways (a reply comes from
        // that form, so it is the key of `repliesFrom` too); on an IPv4 socket an IPv6 one
        // cannot be reached.
        let text = ip.isIPv4 && dualStack ? "::ffff:\(ip.description)" : ip.description
        guard ip.isIPv4 || dualStack, let address = try? NIOCore.SocketAddress(ipAddress: text, port: Int(port)) else {
            verdicts[destination] = .denied
            return drop()
        }
        verdicts[destination] = .send(address)
        repliesFrom[address] = destination
        for bytes in first { send(bytes, to: address) }
    }

    private func send(_ bytes: [UInt8], to address: NIOCore.SocketAddress) {
        guard let channel else { return drop() }
        let envelope = AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: bytes))
        // A full socket buffer or an unreachable port loses the datagram, as UDP does.
        channel.writeAndFlush(envelope, promise: nil)
    }

    private func drop() { router.counters.datagramsDropped += 1 }

    // MARK: from the targets

    private func reply(_ bytes: [UInt8], from source: NIOCore.SocketAddress) {
        guard !closed, let mux, let name = repliesFrom[source] else { return drop() }
        lastActivity = .now()
        mux.sendDatagram(id, bytes, address: name == target ? nil : name)
    }

    // MARK: ending

    func sessionClosed(_ code: MuxErrorCode?) { shut() }

    /// Idle past `[mux] udp_idle_timeout_ms`: End, and the socket closes.
    func expire() {
        mux?.closeDatagrams(id)
        shut()
    }

    private func shut() {
        guard !closed else { return }
        closed = true
        channel?.close(promise: nil)
        router.udpExits[ObjectIdentifier(self)] = nil
    }
}

extension DatagramBootstrap {
    /// Reads up to one byte more than the largest datagram a session carries (after a header of
    /// `header` bytes): NIO's default of 2048 bytes cuts longer datagrams short without a word,
    /// where they must go whole or be dropped. A longer one is read as too long and dropped.
    func readingWholeDatagrams(header: Int = 0) -> DatagramBootstrap {
        channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: header + MuxLimits.maxDatagram + 1))
    }
}

/// Delivers each datagram a UDP socket reads, with its source address.
final class UDPReceiveHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let deliver: ([UInt8], NIOCore.SocketAddress) -> Void

    init(_ deliver: @escaping ([UInt8], NIOCore.SocketAddress) -> Void) { self.deliver = deliver }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        deliver(Array(envelope.data.readableBytesView), envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP port unreachable and the like surface here; UDP goes on.
    }
}
