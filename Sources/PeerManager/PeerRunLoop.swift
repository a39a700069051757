#if canImport(Glibc)
import Glibc
#endif
import ChildRuntime
import DevP2P
import Enode
import IPC
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NodeConfig
import RLPxFrame
import Control
import Foundation
import Streams

/// What the run loop asks the IPC side to send.
enum Outgoing: Sendable {
    case toWorker(Int, IPCMessage, requestID: UInt32)
    case toSupervisor(IPCMessage, requestID: UInt32 = 0)
    /// Every peer is gone after a shutdown: the process may exit.
    case finished
    /// The run loop's writer to a worker broke (RunLoopSenders): drop that worker's channel.
    case workerWriterBroke(Int, attachment: Int, IPCChannelError)
}

/// The peer manager's run loop (go-ethereum's Server.run), confined to one NIO event loop:
/// the peer set and its checks, the live peers, the static-node dial schedule and the events.
/// Every method runs on `eventLoop`; the IPC thread reaches it with `eventLoop.execute`.
final class PeerRunLoop: @unchecked Sendable {
    struct LivePeer {
        let channel: Channel
        /// Used only on `link`'s loop (NIOLoopBound checks it).
        let handler: NIOLoopBound<PeerChannelHandler>
        let connectionID: UInt64
        let direction: IPCMessage.Direction
        let remoteAddress: String
        let remotePort: UInt16
        let clientID: String
        let capabilities: [IPCMessage.Capability]
        let since: ContinuousClock.Instant
        let connectedAt: Date
        /// The loop the link runs on; `handler` is touched only there.
        let link: LinkLoop
    }

    let eventLoop: EventLoop
    private let send: @Sendable (Outgoing) -> Void
    private let counters: PeerCounters
    private var settings: PeerManagerSettings?
    private var peerSet: PeerSet?
    private var dials = DialScheduler()
    private var peers: [[UInt8]: LivePeer] = [:]
    private var workers: Set<Int> = []
    /// Which worker asked about which connection, to forget its reservations if it dies.
    private var connectionWorker: [UInt64: Int] = [:]
    /// Where each connection in a handshake goes, for its handshake-failed event: PeerEvent's
    /// remote ip must be a valid address (ipc/PROTOCOL.md), and neither HandshakeAborted nor
    /// DialFailed carries one.
    private var connectionAddress: [UInt64: (ip: String, port: UInt16)] = [:]
    /// Who a dialed node this node refused is (its client name, what it offered), kept from
    /// the check until the worker's DialFailed, whose event line carries it.
    private var refusedDialWho: [UInt64: String] = [:]
    private var nextDial: UInt64 = 1 << 63
    private var nextWorker = 0
    private var shuttingDown = false
    /// When the next tick should run, to measure how late the loop is (run-loop lag).
    private var nextTickDue: NIODeadline = .now() + PeerRunLoop.tickInterval
    /// The run loop's housekeeping period (dials due, liveness stamp, lag sample).
    static let tickInterval: TimeAmount = .milliseconds(250)
    /// NIO's write-buffer watermarks for peer sockets: above `high` bytes unwritten the peer is
    /// not read (and its mux does not send) until below `low`. 256 KiB holds four mux messages,
    /// enough to keep the socket busy, little enough to bound what one peer costs.
    static let peerWriteWatermark = ChannelOptions.Types.WriteBufferWaterMark(low: 64 * 1024, high: 256 * 1024)
    /// TCP_NOTSENT_LOWAT (linux/tcp.h, 25; not in Swift's Glibc): 128 KiB, as HTTP/2 servers
    /// use it to keep priorities meaningful under bulk transfers.
    static let tcpNotSentLowat: Int32 = 25
    static let unsentLowWater: Int32 = 128 * 1024

    /// The streams over the peer links: SOCKS5, forwards, the exit's allowlist.
    private(set) lazy var router = StreamRouter(eventLoop: eventLoop, hooks: .init(
        log: { message in ChildProcess.log(.peerManager, 0, message) },
        isTrusted: { [unowned self] id in peerSet?.isTrusted(id) ?? false },
        isStatic: { [unowned self] id in dials.isStatic(id) },
        knownNodeIDs: { [unowned self] in Array(peers.keys) + dials.targets.map(\.nodeID) },
        denied: { [unowned self] peer, address, target, reason in sessionDenied(peer, address: address, target: target, reason: reason) },
        debug: { message in ChildProcess.log(.peerManager, 0, message, level: .debug) },
        elsewhere: { [unowned self] id in peers[id].flatMap { $0.link.index == 0 ? nil : $0.link.router } }))

    /// The loops the live links run on (LinkLoops.swift); loop 0 is this run loop.
    private(set) lazy var links = LinkLoops(main: LinkLoop(index: 0, eventLoop: eventLoop, router: router, counters: counters),
                                            group: linkThreads)
    /// The link loops' extra threads, for `PeerManager.run` to stop from the IPC thread.
    let linkThreads = NIOLockedValueBox<MultiThreadedEventLoopGroup?>(nil)

    private func sessionDenied(_ peer: [UInt8], address: String, target: String, reason: String) {
        let host = address.split(separator: ":").dropLast().joined(separator: ":")
        event(.sessionDenied, nodeID: peer, address: host.isEmpty ? "0.0.0.0" : host, port: UInt16(address.split(separator: ":").last ?? "") ?? 0,
              direction: peers[peer]?.direction ?? .inbound, reason: nil, detail: "\(target): \(reason)")
    }

    /// The router of link loop `index` > 0: the exit rules and budget of its links, no entry
    /// listeners (those stay on the run loop), and what it needs of the peer set by message.
    private func linkRouter(_ loop: EventLoop, index: Int, linkLoop: @escaping () -> LinkLoop?) -> StreamRouter {
        let main = eventLoop
        return StreamRouter(eventLoop: loop, hooks: .init(
            log: { message in ChildProcess.log(.peerManager, 0, message) },
            isTrusted: { id in linkLoop()?.trusted.contains(id) ?? false },
            // Entries wait for static nodes on the run loop, never here.
            isStatic: { _ in false },
            knownNodeIDs: { [] },
            denied: { [unowned self] peer, address, target, reason in
                main.execute { self.sessionDenied(peer, address: address, target: target, reason: reason) }
            },
            debug: { message in ChildProcess.log(.peerManager, 0, message, level: .debug) }))
    }

    /// Runs `body` on the run loop: at once when already there.
    private func onRunLoop(_ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }
    init(eventLoop: EventLoop, counters: PeerCounters, send: @escaping @Sendable (Outgoing) -> Void) {
        self.eventLoop = eventLoop
        self.counters = counters
        self.send = send
        eventLoop.scheduleRepeatedTask(initialDelay: Self.tickInterval, delay: Self.tickInterval) { [weak self] _ in
            self?.tick()
        }
    }

    // MARK: configuration and wiring

    func configure(_ s: PeerManagerSettings) {
        eventLoop.preconditionInEventLoop()
        settings = s
        let limits = PeerSet.Limits(maxPeers: s.maxPeers, maxDialed: s.maxDialed, maxInbound: s.maxInbound)
        if peerSet == nil {
            peerSet = PeerSet(localID: Hex.decode(Array(s.nodeIDHex.utf8)) ?? [], limits: limits)
        } else {
            peerSet?.limits = limits
        }
        peerSet?.trusted = Set(s.trustedNodes.compactMap { try? EnodeURL(parsing: $0).nodeID.bytes })
        var fresh = DialScheduler()
        let restrict = s.netrestrict.compactMap(CIDR.init(parsing:))
        // Kept under NoDial too (listed and counted as static); `tick` dials nothing then.
        for url in s.staticNodes {
            // go-ethereum's dial errors, checked once here rather than at every attempt.
            guard let e = try? EnodeURL(parsing: url), let ip = e.ip, e.tcpPort != 0 else { continue }
            if e.nodeID.bytes == peerSet?.localID { continue }
            if !restrict.isEmpty && !restrict.contains(where: { $0.contains(ip: ip.description) }) { continue }
            fresh.add(.init(nodeID: e.nodeID.bytes, ip: ip.description, port: e.tcpPort))
        }
        // Keep the backoff state of nodes that stay static.
        for t in dials.targets where !fresh.isStatic(t.nodeID) { dials.remove(nodeID: t.nodeID) }
        for t in fresh.targets { dials.add(t) }
        countLists()
        links.start(count: s.linkThreads > 0 ? s.linkThreads : System.coreCount,
                    makeRouter: { [unowned self] loop, index, linkLoop in linkRouter(loop, index: index, linkLoop: linkLoop) },
                    counters: counters)
        links.setTrusted(peerSet?.trusted ?? [])
        // Each loop's router holds its share of the process's buffer budget.
        var share = s.mux
        share.maxTotalBuffer = max(1, s.mux.maxTotalBuffer / links.all.count)
        let mux = share
        router.configure(mux: mux, services: s.services, allow: s.allow, deny: s.deny, socks5: s.socks5, forwards: s.forwards)
        for loop in links.all.dropFirst() {
            let (services, allow, deny) = (s.services, s.allow, s.deny)
            loop.run {
                loop.router.configure(mux: mux, services: services, allow: allow, deny: deny,
                                      socks5: .init(listen: "", defaultExit: ""), forwards: [])
            }
        }
        links.setSweep(Self.sweepInterval(pingInterval: .milliseconds(Int64(s.pingIntervalMs))))
    }

    /// How often every peer's timeouts are checked (one pass, done in PeerSweep's steps): each
    /// second, or twice per ping interval when that is shorter (test configurations), so no
    /// timeout overshoots by much.
    static func sweepInterval(pingInterval: TimeAmount) -> TimeAmount {
        .nanoseconds(min(TimeAmount.seconds(1).nanoseconds, pingInterval.nanoseconds / 2))
    }

    func workerAttached(_ index: Int) { workers.insert(index) }

    /// A worker died: the handshakes it held are gone, so are their reservations and dials.
    func workerDetached(_ index: Int) {
        workers.remove(index)
        let lost = Set(connectionWorker.filter { $0.value == index }.map(\.key))
        peerSet?.abortAll(connectionIDs: lost)
        for id in lost {
            connectionWorker[id] = nil
            connectionAddress[id] = nil
            refusedDialWho[id] = nil
            if dials.isDialing(connectionID: id) { dials.failed(connectionID: id, now: .now) }
        }
    }

    // MARK: messages from workers

    func handle(_ message: IPCMessage, requestID: UInt32, fds: [CInt], fromWorker worker: Int) {
        switch message {
        case .checkPostHandshake(let q):
            connectionWorker[q.connectionID] = worker
            connectionAddress[q.connectionID] = (q.remoteAddress, q.remotePort)
            let verdict = checkPostHandshake(q)
            send(.toWorker(worker, .checkVerdict(verdict), requestID: requestID))
            // No Hello yet: the line has the address and the node ID, and says why no client name.
            refused(verdict, nodeID: q.nodeID, connectionID: q.connectionID, direction: q.direction, why: " (before its Hello)")
        case .checkAddPeer(let q):
            // Every dial is a static node's, in flight until it connects or fails.
            let direction: IPCMessage.Direction = dials.isDialing(connectionID: q.connectionID) ? .outbound : .inbound
            let verdict = checkAddPeer(q)
            send(.toWorker(worker, .checkVerdict(verdict), requestID: requestID))
            refused(verdict, nodeID: q.nodeID, connectionID: q.connectionID, direction: direction, why: Self.who(q, verdict))
        case .peerHandoff(let h) where fds.count == 1:
            connectionWorker[h.connectionID] = nil
            connectionAddress[h.connectionID] = nil
            adopt(h, fd: fds[0])
        case .handshakeAborted(let a):
            connectionWorker[a.connectionID] = nil
            let address = connectionAddress.removeValue(forKey: a.connectionID)
            peerSet?.abort(id: a.nodeID, connectionID: a.connectionID)
            event(.handshakeFailed, nodeID: a.nodeID, address: address?.ip ?? "0.0.0.0", port: address?.port ?? 0,
                  direction: .inbound, reason: nil, detail: a.reason)
        case .dialFailed(let f):
            connectionWorker[f.connectionID] = nil
            let address = connectionAddress.removeValue(forKey: f.connectionID)
            peerSet?.abort(id: f.nodeID, connectionID: f.connectionID)
            let who = refusedDialWho.removeValue(forKey: f.connectionID) ?? ""
            dials.failed(connectionID: f.connectionID, now: .now)
            counters.update { $0.dialsFailed += 1 }
            event(.handshakeFailed, nodeID: f.nodeID, address: address?.ip ?? "0.0.0.0", port: address?.port ?? 0,
                  direction: .outbound, reason: nil,
                  detail: "dial failed: \(f.detail)\(who)")
        default:
            fds.forEach { _ = close($0) }
        }
    }

    private func checkPostHandshake(_ q: IPCMessage.CheckPostHandshake) -> IPCMessage.CheckVerdict {
        // peerSet is changed in place: a copy changed and stored back would copy every entry.
        guard peerSet != nil, !shuttingDown else { return .init(disconnectReason: DisconnectReason.quitting.rawValue, trusted: false) }
        let isStaticDial = q.direction == .outbound && dials.isDialing(connectionID: q.connectionID)
        let v = peerSet!.checkPostHandshake(id: q.nodeID, direction: q.direction == .inbound ? .inbound : .outbound,
                                            connectionID: q.connectionID, staticDial: isStaticDial)
        return verdictMessage(v)
    }

    private func checkAddPeer(_ q: IPCMessage.CheckAddPeer) -> IPCMessage.CheckVerdict {
        guard peerSet != nil, !shuttingDown else { return .init(disconnectReason: DisconnectReason.quitting.rawValue, trusted: false) }
        let caps = q.capabilities.map { Capability(name: $0.name, version: UInt64($0.version)) }
        let shared = !SharedCapabilities(local: StockadeProtocol.localProtocols, remote: caps).isEmpty
        let direction: PeerSet.Direction = peerSet!.entries[q.nodeID]?.direction ?? .inbound
        let v = peerSet!.checkAddPeer(id: q.nodeID, direction: direction, connectionID: q.connectionID, sharesCapability: shared)
        return verdictMessage(v)
    }

    /// A refused inbound peer is a failed handshake with its reason, and the worker reports
    /// nothing more about it (it holds no reservation): report it and forget the connection
    /// here. A refused dial is reported by the worker's DialFailed instead, with `why` kept for it.
    private func refused(_ v: IPCMessage.CheckVerdict, nodeID: [UInt8], connectionID: UInt64, direction: IPCMessage.Direction,
                         why: String = "") {
        guard !v.accepts else { return }
        guard direction == .inbound else {
            if !why.isEmpty { refusedDialWho[connectionID] = why }
            return
        }
        connectionWorker[connectionID] = nil
        let address = connectionAddress.removeValue(forKey: connectionID)
        let reason = DisconnectReason(rawValue: v.disconnectReason ?? DisconnectReason.requested.rawValue)
        event(.handshakeFailed, nodeID: nodeID, address: address?.ip ?? "0.0.0.0", port: address?.port ?? 0,
              direction: .inbound, reason: reason.rawValue, detail: "refused by this node: \(reason)\(why)")
    }

    /// Who a peer refused at the add-peer check is, as its Hello said: the client name, and for
    /// UselessPeer what it offered instead (a go-ethereum node: eth, snap).
    static func who(_ q: IPCMessage.CheckAddPeer, _ v: IPCMessage.CheckVerdict) -> String {
        let client = " (client \"\(q.clientID)\""
        guard v.disconnectReason == DisconnectReason.uselessPeer.rawValue else { return client + ")" }
        let offered = q.capabilities.map { "\($0.name)/\($0.version)" }.joined(separator: ", ")
        return client + ", offers \(offered.isEmpty ? "no capability" : offered); Stockade needs stk/1)"
    }

    private func verdictMessage(_ v: PeerSet.Verdict) -> IPCMessage.CheckVerdict {
        switch v {
        case .accept(let trusted): return .accept(trusted: trusted)
        case .reject(let code):
            counters.update { $0.checksRejected += 1 }
            return .init(disconnectReason: code.rawValue, trusted: false)
        }
    }

    // MARK: live peers

    private func adopt(_ h: IPCMessage.PeerHandoff, fd: CInt) {
        guard let settings, peerSet?.makeLive(id: h.nodeID, connectionID: h.connectionID) == true,
              let codec = try? FrameCodec(exportedState: h.sessionState) else {
            // The reservation is gone (a newer connection won, or the state is unusable).
            counters.update { $0.handoffsRefused += 1 }
            close(fd)
            peerSet?.abort(id: h.nodeID, connectionID: h.connectionID)
            return
        }
        let timeouts = PeerChannelHandler.Timeouts(pingInterval: .milliseconds(Int64(settings.pingIntervalMs)),
                                                   readTimeout: .milliseconds(Int64(settings.readTimeoutMs)),
                                                   writeTimeout: .milliseconds(Int64(settings.writeTimeoutMs)))
        let nodeID = h.nodeID
        let shared = SharedCapabilities(local: StockadeProtocol.localProtocols,
                                        remote: h.capabilities.map { Capability(name: $0.name, version: UInt64($0.version)) })
        // The kernel keeps at most this much unsent, so a bulk session's bytes wait in the mux
        // (where sessions take turns) rather than in one FIFO ahead of every other session.
        var lowat = Self.unsentLowWater
        _ = setsockopt(fd, Int32(IPPROTO_TCP), Self.tcpNotSentLowat, &lowat, socklen_t(MemoryLayout<Int32>.size))
        let link = links.place()
        link.run { [unowned self, counters] in
            // On the link's loop from here; the run loop hears the outcome by message.
            weak var adopted: PeerChannelHandler?
            let handler = PeerChannelHandler(
                codec: codec, messages: MessageCodec(snappyEnabled: h.snappy), shared: shared, timeouts: timeouts,
                onTraffic: { i, o in counters.update { $0.bytesIn += UInt64(i); $0.bytesOut += UInt64(o) } },
                onClosed: { [unowned self] reason, remote in
                    if let adopted {
                        if link.links[nodeID] === adopted { link.links[nodeID] = nil }
                        if let mux = adopted.mux { link.router.peerRemoved(nodeID: nodeID, mux: mux) }
                    }
                    onRunLoop { self.peerClosed(nodeID, connectionID: h.connectionID, reason: reason, remote: remote) }
                })
            adopted = handler
            // The mux exists before the channel does: a peer may send mux messages right after
            // Hello (devp2p allows it; they may even be among the bytes the worker read), and the
            // first read comes before the adoption's callback below.
            handler.mux = link.router.peerAdded(nodeID: nodeID, address: "\(h.remoteAddress):\(h.remotePort)",
                                                dialed: h.direction == .outbound, transport: handler)
            let boxed = NIOLoopBound(handler, eventLoop: link.eventLoop)
            ClientBootstrap(group: link.eventLoop)
                .channelOption(ChannelOptions.writeBufferWaterMark, value: Self.peerWriteWatermark)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(boxed.value) }
                }
                .withConnectedSocket(fd)
                .whenComplete { [unowned self] result in
                    // Completes on the link's loop, where the loop-bound handler may be used.
                    let handler = boxed.value
                    switch result {
                    case .success(let channel):
                        let closed = handler.closedWith
                        if closed == nil { link.links[nodeID] = handler }
                        onRunLoop { self.linkUp(h, channel: channel, handler: boxed, link: link, closedWith: closed) }
                    case .failure(let error):
                        if let mux = handler.mux { link.router.peerRemoved(nodeID: nodeID, mux: mux) }
                        onRunLoop {
                            self.links.released(link)
                            self.peerSet?.drop(id: nodeID, connectionID: h.connectionID)
                            self.event(.handshakeFailed, nodeID: nodeID, address: h.remoteAddress, port: h.remotePort,
                                       direction: h.direction, reason: nil, detail: "cannot adopt connection: \(error)")
                        }
                    }
                }
        }
    }

    /// A link is up on its loop: it is a live peer now.
    private func linkUp(_ h: IPCMessage.PeerHandoff, channel: Channel, handler: NIOLoopBound<PeerChannelHandler>, link: LinkLoop,
                        closedWith closed: (reason: DisconnectReason, remoteRequested: Bool)?) {
        let nodeID = h.nodeID
        peers[nodeID] = LivePeer(channel: channel, handler: handler, connectionID: h.connectionID, direction: h.direction,
                                 remoteAddress: h.remoteAddress, remotePort: h.remotePort, clientID: h.clientID,
                                 capabilities: h.capabilities, since: .now, connectedAt: Date(), link: link)
        dials.connected(nodeID: nodeID)
        counters.update {
            $0.added += 1
            if h.direction == .inbound { $0.peersInbound += 1 } else { $0.peersOutbound += 1 }
        }
        event(.added, nodeID: nodeID, address: h.remoteAddress, port: h.remotePort, direction: h.direction,
              reason: nil, detail: h.clientID)
        // Entries waiting here for this static node go to its loop.
        if link.index != 0 { router.peerAddedElsewhere(nodeID: nodeID, router: link.router) }
        if let closed {
            // Gone during its activation, before the adoption's callback: drop it now.
            peerClosed(nodeID, connectionID: h.connectionID, reason: closed.reason, remote: closed.remoteRequested)
        } else if shuttingDown {
            link.run { handler.value.disconnect(.quitting) }
        }
    }

    /// The link is closed (its loop has already ended its sessions): forget the live peer.
    private func peerClosed(_ nodeID: [UInt8], connectionID: UInt64, reason: DisconnectReason, remote: Bool) {
        guard let peer = peers[nodeID], peer.connectionID == connectionID else { return }
        peers[nodeID] = nil
        links.released(peer.link)
        if peer.link.index != 0 { router.peerGoneElsewhere(nodeID: nodeID) }
        peerSet?.drop(id: nodeID, connectionID: connectionID)
        dials.disconnected(nodeID: nodeID, now: .now)
        counters.update {
            $0.dropped += 1
            if peer.direction == .inbound { $0.peersInbound -= 1 } else { $0.peersOutbound -= 1 }
        }
        event(.dropped, nodeID: nodeID, address: peer.remoteAddress, port: peer.remotePort, direction: peer.direction,
              reason: reason.rawValue, detail: remote ? "remote: \(reason)" : "local: \(reason)")
        if shuttingDown && peers.isEmpty { send(.finished) }
    }

    // MARK: dialing and time

    private func tick() {
        let now = NIODeadline.now()
        let lag = max(0, (now - nextTickDue).nanoseconds)
        nextTickDue = now + Self.tickInterval
        counters.update {
            $0.loopAlive = .now
            $0.runLoopLagMicroseconds = UInt64(lag / 1000)
        }
        // The stream counters are published by each link loop, once a second (LinkLoops.swift).
        // go-ethereum's NoDial: no dials at all, static nodes added at run time included.
        guard !shuttingDown, settings?.noDial != true, let set = peerSet, !workers.isEmpty else { return }
        for target in dials.due(now: .now, isPresent: { set.contains($0) }) {
            let ordered = workers.sorted()
            let worker = ordered[nextWorker % ordered.count]
            nextWorker &+= 1
            nextDial += 1
            dials.started(nodeID: target.nodeID, connectionID: nextDial)
            connectionWorker[nextDial] = worker
            connectionAddress[nextDial] = (target.ip, target.port)
            counters.update { $0.dialsStarted += 1 }
            send(.toWorker(worker, .dialRequest(.init(connectionID: nextDial, nodeID: target.nodeID, address: target.ip,
                                                      port: target.port)), requestID: 0))
        }
    }

    // MARK: operator commands (PeerControl.swift)

    var liveNodeIDs: [[UInt8]] { Array(peers.keys) }

    func isStaticNode(_ id: [UInt8]) -> Bool { dials.isStatic(id) }

    /// The listing the pages of one `peers` request come from: built for its first page and
    /// kept for the pages after it (the supervisor asks for them one after another), so a
    /// listing of n peers costs one build of n entries rather than one per page, and its pages
    /// are one consistent snapshot (no peer twice or missed when peers come and go meanwhile).
    func peerListing(from offset: Int) -> EventLoopFuture<[PeerInfo]> {
        if offset > 0, let kept = listing, NIODeadline.now() - kept.built < Self.listingLifetime { return eventLoop.makeSucceededFuture(kept.infos) }
        return peerInfos().map { [self] infos in
            listing = infos.count > 0 ? (NIODeadline.now(), infos) : nil
            return infos
        }
    }
    private var listing: (built: NIODeadline, infos: [PeerInfo])?
    func dropPeerListing() { listing = nil }
    /// Pages follow each other within milliseconds; this only bounds a stale snapshot's life.
    static let listingLifetime: TimeAmount = .seconds(10)

    /// The live peers with their byte counts, which each link loop reads for its own links.
    func peerInfos() -> EventLoopFuture<[PeerInfo]> {
        EventLoopFuture.whenAllSucceed(links.all.map { $0.trafficSnapshot() }, on: eventLoop).map { [self] snapshots in
            let traffic = snapshots.reduce(into: [:]) { all, one in all.merge(one) { a, _ in a } }
            return peers.map { id, p in
                var info = PeerInfo(id: Hex.encode(id), clientID: p.clientID, address: "\(p.remoteAddress):\(p.remotePort)",
                                    direction: p.direction == .inbound ? "inbound" : "outbound", trusted: peerSet?.isTrusted(id) ?? false,
                                    isStatic: dials.isStatic(id), capabilities: p.capabilities.map { "\($0.name)/\($0.version)" },
                                    connectedSince: p.connectedAt.timeIntervalSince1970, bytesIn: traffic[id]?.bytesIn ?? 0,
                                    bytesOut: traffic[id]?.bytesOut ?? 0)
                info.linkLoop = p.link.index
                return info
            }.sorted { $0.connectedSince < $1.connectedSince }
        }
    }

    /// Every session of every link loop.
    func sessionInfos() -> EventLoopFuture<[SessionInfo]> {
        EventLoopFuture.whenAllSucceed(links.all.map { $0.sessions() }, on: eventLoop).map { lists in
            lists.flatMap { $0 }.sorted { ($0.peer, $0.session) < ($1.peer, $1.session) }
        }
    }

    /// go-ethereum's AddPeer with its dial errors checked up front, so the operator hears them.
    func addStatic(_ url: EnodeURL) -> ControlReply {
        let id = url.nodeID.bytes
        if let set = peerSet, id == set.localID { return .failure("cannot add this node itself (dial error: self)") }
        guard let ip = url.ip else { return .failure("the enode URL has no IP address (dial error: no resolved IP)") }
        guard url.tcpPort != 0 else { return .failure("the enode URL has no TCP port (dial error: no port)") }
        // 0.0.0.0 and :: are where a node listens, never where it is reached.
        guard ip.bytes.contains(where: { $0 != 0 }) else {
            return .failure("\(ip) is the unspecified address, not one a node can be dialed at")
        }
        let restrict = (settings?.netrestrict ?? []).compactMap(CIDR.init(parsing:))
        if !restrict.isEmpty && !restrict.contains(where: { $0.contains(ip: ip.description) }) {
            return .failure("\(ip) is outside netrestrict (dial error: not contained in netrestrict list)")
        }
        let target = DialScheduler.Target(nodeID: id, ip: ip.description, port: url.tcpPort)
        if let known = dials.targets.first(where: { $0.nodeID == id }) {
            guard known != target else { return .failure("already a static node: \(url.nodeID.hex.prefix(16))…") }
            // A known node at a new address: the address is updated (it moved, or was mistyped).
            dials.remove(nodeID: id)
            dials.add(target)
            countLists()
            return .success(ControlResult(message: "static node \(url.nodeID.hex.prefix(16))… now at \(ip):\(url.tcpPort) (was \(known.ip):\(known.port))"))
        }
        dials.add(target)
        countLists()
        if settings?.noDial == true { return .success(ControlResult(message: "added as static, but no_dial is set: it will not be dialed")) }
        if peers[id] != nil { return .success(ControlResult(message: "added as static; already connected, kept connected from now on")) }
        return .success(ControlResult(message: "added as static; dialing \(ip):\(url.tcpPort)"))
    }

    /// go-ethereum's RemovePeer: no longer static, and disconnected if connected.
    func removeStatic(_ url: EnodeURL) -> ControlReply {
        let id = url.nodeID.bytes
        guard dials.isStatic(id) else { return .failure("not a static node: \(url.nodeID.hex.prefix(16))…") }
        dials.remove(nodeID: id)
        countLists()
        if peers[id] != nil {
            disconnectPeer(id, reason: .requested)
            return .success(ControlResult(message: "removed from static nodes and disconnected"))
        }
        return .success(ControlResult(message: "removed from static nodes"))
    }

    /// True when the trusted set changed.
    func peerSetTrust(_ id: [UInt8], trusted: Bool) -> Bool {
        guard peerSet != nil else { return false }
        defer { countLists() }
        defer { links.setTrusted(peerSet!.trusted) }
        if trusted { return peerSet!.trusted.insert(id).inserted }
        return peerSet!.trusted.remove(id) != nil
    }

    /// The static and trusted lists as they are now (run-time edits included), for the
    /// heartbeat and so `stockade status`.
    private func countLists() {
        let staticNodes = UInt64(dials.targets.count), trustedNodes = UInt64(peerSet?.trusted.count ?? 0)
        counters.update {
            $0.staticNodes = staticNodes
            $0.trustedNodes = trustedNodes
        }
    }

    func disconnectPeer(_ id: [UInt8], reason: DisconnectReason) {
        guard let peer = peers[id] else { return }
        let handler = peer.handler
        peer.link.run { handler.value.disconnect(reason) }
    }

    /// Disconnect(reason) to every peer; `.finished` follows once all are closed.
    func shutdown(reason: DisconnectReason) {
        shuttingDown = true
        if peers.isEmpty { send(.finished); return }
        for peer in peers.values {
            let handler = peer.handler
            peer.link.run { handler.value.disconnect(reason) }
        }
    }

    private func event(_ kind: IPCMessage.PeerEvent.Kind, nodeID: [UInt8], address: String, port: UInt16,
                       direction: IPCMessage.Direction, reason: UInt8?, detail: String) {
        send(.toSupervisor(.peerEvent(.init(kind: kind, nodeID: nodeID, remoteAddress: address, remotePort: port,
                                            direction: direction, disconnectReason: reason, detail: String(detail.prefix(256))))))
    }
}
