#if canImport(Glibc)
import Glibc
#endif
import Enode
import Mux
import NIOCore
import NIOPosix
import NodeConfig
import SOCKS5
import Sockets

/// The entry side's listeners: the SOCKS5 entry (as `ssh -D`) and the local forwards (as
/// `ssh -L`), each turning accepted connections into sessions over a peer link. Sockets are
/// bound synchronously (so a taken address is an error the operator sees at once) and then
/// handed to NIO.
final class EntryListeners {
    unowned let router: StreamRouter
    private var socks: (config: NodeConfig.Socks5, channel: EventLoopFuture<Channel>)?
    /// Forwards by listen address: from the config, and added at run time.
    private var forwards: [String: (forward: NodeConfig.Forward, stop: () -> Void, runtime: Bool)] = [:]
    /// The TCP forwards' sockets, each served on its peer's link's loop.
    private var forwardListeners: [String: ForwardListener] = [:]
    private var udpForwards: [String: UDPForward] = [:]

    /// Listening sockets systemd handed the service (socket activation, through the
    /// supervisor): the SOCKS5 entry's, and forwards' by their `listen`. Kept open for the
    /// process's life; a listener takes a dup, so closing it (a reload, `forward remove`) leaves
    /// the socket to be listened on again.
    private var inheritedSocks: CInt?
    private var inheritedForwards: [String: CInt] = [:]

    init(router: StreamRouter) { self.router = router }

    /// Takes a socket-activated listener, before the config that uses it.
    func inherit(_ entry: InheritedEntry, fd: CInt) {
        switch entry {
        case .socks5:
            if let old = inheritedSocks { Glibc.close(old) }
            inheritedSocks = fd
        case .forward(let listen):
            if let old = inheritedForwards[listen] { Glibc.close(old) }
            inheritedForwards[listen] = fd
        }
    }

    /// Applies the config's `[socks5]` and `[[forward]]`; run-time forwards stay.
    func configure(socks5: NodeConfig.Socks5, forwards wanted: [NodeConfig.Forward]) {
        if let s = socks, s.config != socks5 {
            Self.close(s.channel)
            socks = nil
        }
        if socks == nil, !socks5.listen.isEmpty || inheritedSocks != nil {
            // systemd's socket wins over `listen` (which may then be empty): it is the one
            // clients were told about, and it is already open.
            let shown = inheritedSocks.map { "socket-activated \(Self.localAddress($0))" } ?? socks5.listen
            do {
                socks = (socks5, try listen(socks5.listen, inherited: inheritedSocks) { [unowned self] channel in
                    self.acceptSOCKS(channel, config: socks5)
                })
                router.log("SOCKS5 entry on \(shown)")
            } catch {
                router.log("no SOCKS5 entry on \(shown): \(error)")
            }
        }
        for (key, f) in forwards where !f.runtime && !wanted.contains(f.forward) {
            f.stop()
            forwards[key] = nil
            udpForwards.removeValue(forKey: key)?.stop()
        }
        for f in wanted where forwards[Self.key(f)]?.forward != f {
            if let old = forwards.removeValue(forKey: Self.key(f)) { old.stop() }
            udpForwards.removeValue(forKey: Self.key(f))?.stop()
            if case .failure(let e) = add(f, runtime: false) { router.log("no forward on \(f.listen): \(e)") }
        }
    }

    /// Starts a forward; the error says why not (address taken, bad target).
    func add(_ f: NodeConfig.Forward, runtime: Bool) -> Result<Void, EntryError> {
        guard forwards[Self.key(f)] == nil else { return .failure(.badTarget("\(f.listen) is already forwarded")) }
        let target: MuxTarget
        switch Self.target(f.target) {
        case .success(let t): target = t
        case .failure(let e): return .failure(e)
        }
        guard let peer = Hex.decode(Array(f.peer.utf8)), peer.count == 64 else {
            return .failure(.badPeer("\(f.peer) is not a 128-digit node ID"))
        }
        if f.network == "udp" { return addUDP(f, peer: peer, target: target, runtime: runtime) }
        do {
            let inherited = inheritedForwards[f.listen]
            let fd: CInt
            if let inherited { fd = inherited } else {
                guard let hp = HostPort.parse(f.listen), let sa = Sockets.SocketAddress(ip: hp.ip, port: hp.port) else {
                    throw EntryError.badTarget("not an IP:port address: \(f.listen)")
                }
                fd = try TCPSocket.listen(on: sa)
            }
            let listener = try ForwardListener(fd: fd, ownsFD: inherited == nil, address: f.listen, peer: peer,
                                               router: router.hooks.elsewhere(peer) ?? router, log: router.hooks.log) { channel, router in
                // Static: this runs on the accepting loop, which may not be this object's.
                Self.acceptForward(channel, router: router, peer: peer, target: target, listen: f.listen)
            }
            forwardListeners[f.listen] = listener
            forwards[f.listen] = (f, { [weak self] in
                listener.stop()
                self?.forwardListeners[f.listen] = nil
            }, runtime)
            router.log("forward \(f.listen)\(inherited == nil ? "" : " (socket-activated)") → \(f.target) on peer \(f.peer.prefix(16))…")
            return .success(())
        } catch {
            return .failure(.badTarget("cannot listen on \(f.listen): \(error)"))
        }
    }

    private func addUDP(_ f: NodeConfig.Forward, peer: [UInt8], target: MuxTarget, runtime: Bool) -> Result<Void, EntryError> {
        guard let hp = HostPort.parse(f.listen), let sa = Sockets.SocketAddress(ip: hp.ip, port: hp.port) else {
            return .failure(.badTarget("not an IP:port address: \(f.listen)"))
        }
        do {
            let fd = try TCPSocket.bindUDP(on: sa)
            let forward = UDPForward(router: router, peer: peer, target: target)
            let channel = forward.start(fd: fd)
            forwards[Self.key(f)] = (f, { Self.close(channel) }, runtime)
            udpForwards[Self.key(f)] = forward
            router.log("UDP forward \(f.listen) → \(f.target) on peer \(f.peer.prefix(16))…")
            return .success(())
        } catch {
            return .failure(.badTarget("cannot bind UDP \(f.listen): \(error)"))
        }
    }

    /// Forwards by listen address and network (a TCP and a UDP forward may share an address).
    static func key(_ f: NodeConfig.Forward) -> String { f.network == "udp" ? "udp \(f.listen)" : f.listen }

    func remove(listen: String) -> Bool {
        guard let key = forwards[listen] != nil ? listen : forwards["udp \(listen)"] != nil ? "udp \(listen)" : nil,
              let f = forwards.removeValue(forKey: key) else { return false }
        f.stop()
        udpForwards.removeValue(forKey: key)?.stop()
        return true
    }

    private static func close(_ listener: EventLoopFuture<Channel>) {
        listener.whenSuccess { $0.close(promise: nil) }
    }

    var list: [(forward: NodeConfig.Forward, runtime: Bool)] {
        forwards.values.sorted { $0.forward.listen < $1.forward.listen }.map { ($0.forward, $0.runtime) }
    }

    /// A forward's target: a service name of the exit, or host:port.
    static func target(_ text: String) -> Result<MuxTarget, EntryError> {
        if !text.contains(":") {
            guard !text.isEmpty, text.utf8.count <= 63 else { return .failure(.badTarget("not a service name: \(text)")) }
            return .success(.service(text))
        }
        if let hp = HostPort.parse(text), let ip = IPAddress(hp.ip) {
            return .success(MuxTarget(address: ip.isIPv4 ? .ipv4(ip.bytes) : .ipv6(ip.bytes), port: hp.port))
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else {
            return .failure(.badTarget("not a service name or host:port: \(text)"))
        }
        let host = String(text[..<colon])
        guard !host.isEmpty, host.utf8.count <= 255 else { return .failure(.badTarget("bad host in \(text)")) }
        return .success(MuxTarget(address: .domain(host), port: port))
    }

    // MARK: listening

    /// Binds and listens now (so the caller hears EADDRINUSE at once), or takes a dup of a
    /// socket-activated listener; NIO registers the listening socket on the loop right after.
    private func listen(_ address: String, inherited: CInt? = nil, accept: @escaping (Channel) -> Void) throws -> EventLoopFuture<Channel> {
        let fd: CInt
        if let inherited {
            fd = fcntl(inherited, F_DUPFD_CLOEXEC, 0)
            guard fd >= 0 else { throw EntryError.badTarget("cannot dup the socket-activated listener: \(String(cString: strerror(errno)))") }
        } else {
            guard let hp = HostPort.parse(address), let sa = Sockets.SocketAddress(ip: hp.ip, port: hp.port) else {
                throw EntryError.badTarget("not an IP:port address: \(address)")
            }
            fd = try TCPSocket.listen(on: sa)
        }
        let log = router.hooks.log
        let listener = ServerBootstrap(group: router.eventLoop)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                accept(channel)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .withBoundSocket(fd)
        listener.whenFailure { error in log("listener \(address) failed: \(error)") }
        return listener
    }

    /// Serves the TCP forwards to `peer` on the loop of `router`, where its link now runs (the
    /// run loop's own router when it is not live elsewhere).
    func moveForwards(of peer: [UInt8], to router: StreamRouter) {
        for listener in forwardListeners.values where listener.peer == peer { listener.move(to: router) }
    }

    /// Runs on the loop that accepted, whose router is `router`.
    private static func acceptForward(_ channel: Channel, router: StreamRouter, peer: [UInt8], target: MuxTarget, listen: String) {
        let stream = LocalStream(channel: channel, origin: "forward \(listen) from \(Self.describe(channel.remoteAddress))")
        let handler = LocalStreamHandler(stream: stream) {
            // Not read until the session exists (a static peer may still be dialing).
            stream.pauseReads()
            router.openEntry(stream, peer: peer, target: target, initialData: [], readEarly: true) { code, why in
                guard let code else { return }
                router.log("forward \(listen): \(why)")
                if code == .notAllowed || code == .connectionRefused { stream.close() } else { stream.reset() }
            }
        }
        do { try channel.pipeline.syncOperations.addHandler(handler) } catch {
            channel.close(promise: nil)
        }
    }

    /// A listening socket's own address, for the log.
    static func localAddress(_ fd: CInt) -> String {
        Sockets.SocketAddress.local(of: fd)?.description ?? "fd \(fd)"
    }

    /// "127.0.0.1:5555" rather than NIO's "[IPv4]127.0.0.1/127.0.0.1:5555".
    static func describe(_ address: NIOCore.SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return "?" }
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    private func acceptSOCKS(_ channel: Channel, config: NodeConfig.Socks5) {
        let stream = LocalStream(channel: channel, origin: "socks5 from \(Self.describe(channel.remoteAddress))")
        do {
            try channel.pipeline.syncOperations.addHandler(SOCKS5EntryHandler(stream: stream, router: router, config: config))
        } catch {
            channel.close(promise: nil)
        }
    }
}

/// The SOCKS5 server side of one client (RFC 1928, CONNECT, no authentication): reads the
/// greeting and request, opens the session, answers with the reply code the exit's answer
/// maps to, then steps aside for `LocalStreamHandler`.
final class SOCKS5EntryHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A client that has not finished its request by then is closed (OpenSSH's
    /// LoginGraceTime idea, scaled to a protocol of two short messages).
    static let requestDeadline: TimeAmount = .seconds(10)

    let stream: LocalStream
    unowned let router: StreamRouter
    let config: NodeConfig.Socks5
    private var handshake = SOCKS5ServerHandshake(allowUDPAssociate: true)
    /// A UDP ASSOCIATE's relay, alive while this connection is.
    private var association: SOCKS5UDPAssociation?
    private var done = false
    private var deadline: Scheduled<Void>?

    init(stream: LocalStream, router: StreamRouter, config: NodeConfig.Socks5) {
        self.stream = stream
        self.router = router
        self.config = config
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: Self.requestDeadline) { [weak self] in
            guard let self, !self.done else { return }
            self.done = true
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    func channelInactive(context: ChannelHandlerContext) {
        association?.close()
        // Gone while its session was being opened: the session is aborted.
        stream.gone = true
        stream.bridge?.clientClosed()
        stream.mux?.localClosed(stream)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }   // after the request: an association's idle TCP chatter
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        for step in handshake.feed(bytes) {
            switch step {
            case .needMore:
                break
            case .send(let reply):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
            case .refuse(let reply, let reason):
                done = true
                router.debug("\(stream.origin): \(reason)")
                refuse(context, reply)
                return
            case .request(let request, let leftover):
                done = true
                deadline?.cancel()
                stream.pauseReads()
                route(context, request, leftover)
                return
            }
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ reply: [UInt8]) {
        let channel = context.channel
        if reply.isEmpty {
            channel.close(promise: nil)
            return
        }
        Self.writeThenClose(channel, reply)
    }

    /// Writes `bytes` (a SOCKS5 reply), then closes.
    static func writeThenClose(_ channel: Channel, _ bytes: [UInt8]) {
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: written)
    }

    /// UDP ASSOCIATE (RFC 1928 section 7): a relay socket next to the listener, its address in
    /// the reply; the TCP connection then only holds the association open.
    private func associate(_ context: ChannelHandlerContext, _ request: SOCKS5Request) {
        let channel = context.channel
        let association = SOCKS5UDPAssociation(router: router, config: config, tcpClient: channel.remoteAddress, request: request)
        self.association = association
        association.start(localIP: channel.localAddress?.ipAddress ?? "127.0.0.1") { [stream] relay in
            guard let relay, let ip = relay.ipAddress.flatMap(IPAddress.init), let port = relay.port else {
                Self.writeThenClose(channel, SOCKS5ServerHandshake.reply(.generalFailure))
                return
            }
            let bound: SOCKS5Address = ip.isIPv4 ? .ipv4(ip.bytes) : .ipv6(ip.bytes)
            channel.writeAndFlush(channel.allocator.buffer(bytes: SOCKS5ServerHandshake.reply(.succeeded, bound: bound, port: UInt16(port))),
                                  promise: nil)
            // Bytes on the TCP connection mean nothing now; reading on notices its close.
            stream.resumeReads()
        }
    }

    private func route(_ context: ChannelHandlerContext, _ request: SOCKS5Request, _ leftover: [UInt8]) {
        if request.command == .udpAssociate { return associate(context, request) }
        let peer: [UInt8]
        let target: MuxTarget
        switch Self.destination(request, defaultExit: config.defaultExit, router: router) {
        case .failure(let refusal):
            router.debug("\(stream.origin): \(refusal.why)")
            refuse(context, SOCKS5ServerHandshake.reply(refusal.code))
            return
        case .success(let (p, t)):
            peer = p
            target = t
        }
        let channel = context.channel
        let stream = self.stream
        router.openEntry(stream, peer: peer, target: target, initialData: leftover, readEarly: false) { [weak self, router] code, why in
            guard let code else {
                channel.writeAndFlush(channel.allocator.buffer(bytes: SOCKS5ServerHandshake.reply(.succeeded)), promise: nil)
                if let self { _ = try? channel.pipeline.syncOperations.removeHandler(self) }
                do { try channel.pipeline.syncOperations.addHandler(LocalStreamHandler(stream: stream)) } catch {
                    stream.close()
                    return
                }
                stream.resumeReads()
                return
            }
            router.debug("\(stream.origin): \(why)")
            let reply = SOCKS5ServerHandshake.reply(SOCKS5ReplyCode(rawValue: code.socksReply) ?? .generalFailure)
            Self.writeThenClose(channel, reply)
        }
    }

    /// Where a request goes: `<service>.<node-ID prefix>.stk` opens that service on that peer;
    /// anything else goes to the default exit as given, or is refused (not allowed by ruleset).
    static func destination(_ r: SOCKS5Request, defaultExit: String, router: StreamRouter)
        -> Result<([UInt8], MuxTarget), Refusal> {
        if case .domain(let name) = r.address, let stk = StkName(name) {
            switch router.resolvePeer(stk.peerPrefix) {
            case .success(let peer): return .success((peer, .service(stk.service)))
            case .failure(let e): return .failure(Refusal(code: .hostUnreachable, why: "\(name): \(e)"))
            }
        }
        guard !defaultExit.isEmpty, let exit = Hex.decode(Array(defaultExit.utf8)), exit.count == 64 else {
            return .failure(Refusal(code: .notAllowed, why: "\(r.address.hostText):\(r.port) is not a .stk name and no default exit is set"))
        }
        let address: MuxAddress
        switch r.address {
        case .ipv4(let b): address = .ipv4(b)
        case .ipv6(let b): address = .ipv6(b)
        case .domain(let d): address = .domain(d)
        }
        return .success((exit, MuxTarget(address: address, port: r.port)))
    }

    struct Refusal: Error {
        var code: SOCKS5ReplyCode
        var why: String
    }
}

/// A socket-activated entry listener (ipc/PROTOCOL.md, EntryListener).
public enum InheritedEntry: Sendable, Equatable {
    case socks5
    /// The `[[forward]]` whose `listen` this is.
    case forward(listen: String)
}

/// `<service>.<node-ID prefix>.stk`: a service on a peer, named by identity (README "Streams").
struct StkName {
    var service: String
    var peerPrefix: String

    init?(_ name: String) {
        var labels = name.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        if labels.last == "" { labels.removeLast() }   // a fully qualified name's trailing dot
        guard labels.count == 3, labels[2] == "stk", !labels[0].isEmpty else { return nil }
        service = String(labels[0])
        peerPrefix = String(labels[1])
    }
}
