import Control
import Enode
import ExitPolicy
import Mux
import NIOCore
import NodeConfig

/// The streams side of the peer manager (ARCHITECTURE.md: "mux sessions and their dispatch to
/// local targets; local forwards and the SOCKS5 entry"): one `PeerMux` per live peer, the exit's
/// allowlist, the entry listeners, the memory budget, and the counters. Confined to the run loop.
public final class StreamRouter {
    /// What the router needs from the run loop that holds the peer set.
    public struct Hooks {
        public var log: (String) -> Void
        /// Per-session lines (opens that failed, sessions aborted): debug, as they come in floods.
        public var debug: (String) -> Void
        public var isTrusted: ([UInt8]) -> Bool
        public var isStatic: ([UInt8]) -> Bool
        /// Node IDs an entry may name: live peers and static nodes.
        public var knownNodeIDs: () -> [[UInt8]]
        /// An open was denied by the allowlist: (peer, peer address, target, reason) for the event.
        public var denied: (_ peer: [UInt8], _ address: String, _ target: String, _ reason: String) -> Void
        /// The router of the event loop a live peer's link runs on, when that is not this one
        /// (the peer manager spreads links over several loops); nil when it is here or absent.
        public var elsewhere: ([UInt8]) -> StreamRouter?

        public init(log: @escaping (String) -> Void, isTrusted: @escaping ([UInt8]) -> Bool, isStatic: @escaping ([UInt8]) -> Bool,
                    knownNodeIDs: @escaping () -> [[UInt8]],
                    denied: @escaping ([UInt8], String, String, String) -> Void,
                    debug: @escaping (String) -> Void = { _ in },
                    elsewhere: @escaping ([UInt8]) -> StreamRouter? = { _ in nil }) {
            self.log = log
            self.elsewhere = elsewhere
            self.debug = debug
            self.isTrusted = isTrusted
            self.isStatic = isStatic
            self.knownNodeIDs = knownNodeIDs
            self.denied = denied
        }
    }

    public let eventLoop: EventLoop
    let hooks: Hooks
    var settings = NodeConfig.Mux.standard
    var policy = ExitPolicy.denyAll
    public internal(set) var counters = StreamCounters()
    private var muxes: [[UInt8]: PeerMux] = [:]
    /// Entry opens waiting for a static node to connect, by node ID.
    private var waiting: [[UInt8]: [(deadline: NIODeadline, body: (PeerPlace) -> Void)]] = [:]
    /// Each link's buffered bytes and window growth as last reported, and their sums.
    private var reported: [ObjectIdentifier: (buffered: Int, growth: Int)] = [:]
    private var totalGrowth = 0
    public private(set) var totalBuffered = 0
    private var endedStalls: UInt64 = 0
    lazy var listeners = EntryListeners(router: self)
    /// UDP sessions' local sides, for the idle sweep.
    var udpExits: [ObjectIdentifier: UDPExit] = [:]
    var udpEntries: [ObjectIdentifier: UDPEntryOwner] = [:]

    public init(eventLoop: EventLoop, hooks: Hooks) {
        self.eventLoop = eventLoop
        self.hooks = hooks
        eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in
            self?.sweepIdleDatagrams()
        }
    }

    func log(_ message: String) { hooks.log(message) }
    func debug(_ message: String) { hooks.debug(message) }

    // MARK: configuration

    /// Applies `[mux]`, the exit rules and the entry listeners. A rule set that does not load
    /// (the supervisor checked it, so only a bug gets here) denies everything.
    public func configure(mux: NodeConfig.Mux, services: [String: String], allow: [NodeConfig.ExitRule], deny: [NodeConfig.ExitRule],
                          socks5: NodeConfig.Socks5, forwards: [NodeConfig.Forward]) {
        settings = mux
        do {
            policy = try ExitPolicy(services: services, allow: allow, deny: deny)
        } catch {
            policy = .denyAll
            log("exit rules not loaded, denying every open: \(error)")
        }
        listeners.configure(socks5: socks5, forwards: forwards)
    }

    var limits: MuxLimits {
        MuxLimits(maxSessions: settings.maxSessionsPerPeer, maxPendingOpens: settings.maxPendingOpens, maxWindow: settings.maxSessionWindow)
    }

    // MARK: peers

    /// A peer became live: its mux. `dialed` is true when this node dialed it (odd session IDs).
    public func peerAdded(nodeID: [UInt8], address: String, dialed: Bool, transport: MuxTransport) -> PeerMux {
        let mux = PeerMux(nodeID: nodeID, peerAddress: address, role: dialed ? .dialer : .listener, limits: limits, router: self)
        mux.transport = transport
        muxes[nodeID] = mux
        for waiter in waiting.removeValue(forKey: nodeID) ?? [] { waiter.body(.here(mux)) }
        return mux
    }

    /// A peer became live on another event loop's router: entries waiting for it go there, and
    /// so do the forwards to it.
    public func peerAddedElsewhere(nodeID: [UInt8], router: StreamRouter) {
        listeners.moveForwards(of: nodeID, to: router)
        for waiter in waiting.removeValue(forKey: nodeID) ?? [] { waiter.body(.elsewhere(router)) }
    }

    /// A peer whose link ran on another event loop is gone: its forwards come back here, where
    /// their clients wait for a static node's redial.
    public func peerGoneElsewhere(nodeID: [UInt8]) {
        listeners.moveForwards(of: nodeID, to: self)
    }

    public func peerRemoved(nodeID: [UInt8], mux: PeerMux) {
        mux.transportClosed()
        endedStalls += mux.link.stats.windowStalls
        if muxes[nodeID] === mux { muxes[nodeID] = nil }
        if let r = reported.removeValue(forKey: ObjectIdentifier(mux)) {
            totalBuffered -= r.buffered
            totalGrowth -= r.growth
        }
    }

    /// Where a peer's link is for an entry: on this router's loop, on another loop's router, or
    /// nowhere (not connected and not on its way).
    enum PeerPlace {
        case here(PeerMux)
        case elsewhere(StreamRouter)
        case absent
    }

    /// Runs `body` with where the peer is now, or once that static node connects (before
    /// `deadline`), or with `.absent`: the peer is not connected and not on its way.
    func withPeer(_ nodeID: [UInt8], deadline: NIODeadline, _ body: @escaping (PeerPlace) -> Void) {
        if let mux = muxes[nodeID], !mux.closed {
            body(.here(mux))
            return
        }
        if let other = hooks.elsewhere(nodeID), other !== self {
            body(.elsewhere(other))
            return
        }
        guard hooks.isStatic(nodeID), deadline > .now() else {
            body(.absent)
            return
        }
        waiting[nodeID, default: []].append((deadline, body))
        eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self, var list = self.waiting[nodeID] else { return }
            let now = NIODeadline.now()
            let expired = list.filter { $0.deadline <= now }
            list.removeAll { $0.deadline <= now }
            self.waiting[nodeID] = list.isEmpty ? nil : list
            for w in expired { w.body(.absent) }
        }
    }

    // MARK: budget

    func budgetChanged(_ mux: PeerMux, buffered: Int, growth: Int) {
        let key = ObjectIdentifier(mux)
        let old = reported[key] ?? (0, 0)
        reported[key] = (buffered, growth)
        totalBuffered += buffered - old.buffered
        totalGrowth += growth - old.growth
        counters.bufferedBytes = UInt64(max(0, totalBuffered))
    }

    /// How many more bytes of receive window `mux` may grow by: what is left of its peer's
    /// budget and of the process's.
    func growthAllowance(for mux: PeerMux) -> Int {
        let peerLeft = settings.maxPeerBuffer - mux.link.windowGrowth - mux.link.bufferedBytes
        let totalLeft = settings.maxTotalBuffer - totalGrowth - totalBuffered
        return max(0, min(peerLeft, totalLeft))
    }

    /// Whether a new session may be opened from or to `mux` within the budgets.
    func hasBudget(for mux: PeerMux) -> Bool {
        mux.link.bufferedBytes + mux.link.windowGrowth < settings.maxPeerBuffer
            && totalBuffered + totalGrowth < settings.maxTotalBuffer
    }

    // MARK: the exit side

    /// The peer asks for `target`: allowed? then resolve and connect, all off the loop's
    /// critical path; the session is accepted or refused when that is known.
    func exitOpen(_ mux: PeerMux, _ id: UInt16, _ target: MuxTarget) {
        guard hasBudget(for: mux) else {
            refuseExit(mux, id, .bufferBudget, target: target, why: "buffer budget spent")
            return
        }
        guard let exitTarget = ExitTarget.from(host: target.address.hostText, port: target.port) else {
            deny(mux, id, target: target, reason: "not a valid target address")
            return
        }
        let trusted = hooks.isTrusted(mux.nodeID)
        if target.network == .udp {
            // The New's destination is checked now (a denied one refuses the session); every
            // later datagram's destination is checked by the exit's socket, one by one.
            if case .deny(let reason) = policy.decide(peer: mux.nodeID, trusted: trusted, target: exitTarget) {
                return deny(mux, id, target: target, reason: reason)
            }
            mux.connecting[id] = PendingExit()
            UDPExit(router: self, mux: mux, id: id, target: target).start()
            return
        }
        let deadline = NIODeadline.now() + .milliseconds(Int64(settings.connectTimeoutMs))
        mux.connecting[id] = PendingExit()
        switch policy.decide(peer: mux.nodeID, trusted: trusted, target: exitTarget) {
        case .deny(let reason):
            mux.connecting[id] = nil
            deny(mux, id, target: target, reason: reason)
        case .connect(let ip, let port):
            connectExit(mux, id, [ip], port: port, deadline: deadline)
        case .resolve(let name, let port, let byName):
            ExitConnector.resolve(name, on: eventLoop) { [weak self, weak mux] resolved in
                guard let self, let mux, mux.connecting[id] != nil else { return }
                let admitted = self.policy.admit(peer: mux.nodeID, trusted: self.hooks.isTrusted(mux.nodeID), name: name, port: port,
                                                 resolved: resolved, allowedByName: byName)
                if resolved.isEmpty {
                    self.failExit(mux, id, .hostUnreachable, target: target, why: "\(name) does not resolve")
                } else if admitted.isEmpty {
                    mux.connecting[id] = nil
                    self.deny(mux, id, target: target,
                              reason: "\(name) resolves only to addresses the rules do not allow (\(resolved.map(\.description).joined(separator: ", ")))")
                } else {
                    self.connectExit(mux, id, admitted, port: port, deadline: deadline)
                }
            }
        }
    }

    private func connectExit(_ mux: PeerMux, _ id: UInt16, _ addresses: [IPAddress], port: UInt16, deadline: NIODeadline) {
        ExitConnector.connect(addresses, port: port, on: eventLoop, deadline: deadline) { [weak self, weak mux] result in
            guard let self else { return }
            switch result {
            case .success(let channel):
                guard let mux else {
                    channel.close(promise: nil)
                    return
                }
                let stream = LocalStream(channel: channel, origin: "target \(EntryListeners.describe(channel.remoteAddress))")
                stream.readsPausedInitially()
                do {
                    try channel.pipeline.syncOperations.addHandler(LocalStreamHandler(stream: stream))
                } catch {
                    channel.close(promise: nil)
                    self.failExit(mux, id, .generalFailure, target: nil, why: "cannot set up the target socket: \(error)")
                    return
                }
                mux.exitConnected(id, stream: stream)
            case .failure(let code):
                if let mux {
                    self.failExit(mux, id, code, target: nil, why: "connect to \(addresses.map(\.description).joined(separator: ", ")) port \(port) failed")
                }
            }
        }
    }

    private func failExit(_ mux: PeerMux, _ id: UInt16, _ code: MuxErrorCode, target: MuxTarget?, why: String) {
        counters.failed(code)
        debug("peer \(mux.shortID)… session \(id)\(target.map { " to \($0)" } ?? ""): \(why): \(code)")
        mux.exitFailed(id, code)
    }

    private func refuseExit(_ mux: PeerMux, _ id: UInt16, _ code: MuxErrorCode, target: MuxTarget, why: String) {
        counters.failed(code)
        debug("peer \(mux.shortID)… session \(id) to \(target): refused: \(why)")
        mux.link.refuse(id, code)
        mux.pump()
    }

    private func deny(_ mux: PeerMux, _ id: UInt16, target: MuxTarget, reason: String) {
        counters.opensDenied += 1
        log("denied: peer \(mux.shortID)… \(mux.peerAddress) asked for \(target): \(reason)")
        hooks.denied(mux.nodeID, mux.peerAddress, target.description, reason)
        mux.link.refuse(id, .notAllowed)
        mux.pump()
    }

    // MARK: the entry side

    /// Opens `target` on `peer` for a local client: waits for a static peer's dial, then for
    /// the exit's answer, both within `[mux] open_timeout_ms`. `reply` runs once.
    func openEntry(_ stream: LocalStream, peer: [UInt8], target: MuxTarget, initialData: [UInt8], readEarly: Bool,
                   reply: @escaping (MuxErrorCode?, String) -> Void) {
        let deadline = NIODeadline.now() + .milliseconds(Int64(settings.openTimeoutMs))
        let id = String(Hex.encode(peer).prefix(16))
        withPeer(peer, deadline: deadline) { [weak self] place in
            // The client may have left while a static peer was dialed.
            guard let self, !stream.gone else { return }
            let mux: PeerMux
            switch place {
            case .absent:
                self.counters.failed(.hostUnreachable)
                reply(.hostUnreachable, "peer \(id)… is not connected")
                return
            case .elsewhere(let router):
                // The link runs on another event loop: the client's socket is bridged to it.
                LoopBridge.open(stream, from: self, to: router, peer: peer, target: target, initialData: initialData,
                                readEarly: readEarly, reply: reply)
                return
            case .here(let here):
                mux = here
            }
            guard self.hasBudget(for: mux) else {
                self.counters.failed(.bufferBudget)
                reply(.bufferBudget, "buffer budget spent")
                return
            }
            mux.open(target, for: stream, initialData: initialData, readEarly: readEarly, deadline: deadline) { code in
                if let code {
                    if code != .notAllowed { self.counters.failed(code) }
                    reply(code, "peer \(id)… refused \(target): \(code)")
                } else {
                    reply(nil, "")
                }
            }
        }
    }

    /// The node ID an operator's PEER names: an enode URL, a full node ID, or a unique prefix
    /// of 8+ hex digits among live peers and static nodes (`forward add`, `connect`).
    func entryPeer(_ text: String) -> Result<[UInt8], EntryError> {
        var id = text.lowercased()
        if id.hasPrefix("enode://") { id = String(id.dropFirst(8).prefix(128)) }
        if id.count == 128 {
            guard let full = Hex.decode(Array(id.utf8)), full.count == 64 else { return .failure(.badPeer("\(text) is not a node ID")) }
            return .success(full)
        }
        return resolvePeer(id)
    }

    /// The node ID a prefix names among live peers and static nodes.
    func resolvePeer(_ text: String) -> Result<[UInt8], EntryError> {
        let prefix = text.lowercased()
        guard prefix.count >= 8, prefix.allSatisfy({ $0.isHexDigit }) else {
            return .failure(.badPeer("\(text) is not a node ID or a prefix of at least 8 hex digits"))
        }
        var matches = Set<[UInt8]>()
        for id in hooks.knownNodeIDs() where Hex.encode(id).hasPrefix(prefix) { matches.insert(id) }
        switch matches.count {
        case 0: return .failure(.unknownPeer("no connected or static peer has an ID starting \(prefix)"))
        case 1: return .success(matches.first!)
        default: return .failure(.badPeer("\(prefix) matches \(matches.count) peers; give more digits"))
        }
    }

    // MARK: operator view

    /// Every session of every peer, for `stockade sessions`.
    public func sessions() -> [SessionInfo] {
        let now = ContinuousClock.now
        return muxes.values.sorted { $0.shortID < $1.shortID }.flatMap { mux in
            mux.link.snapshot(now: now).map { s in
                SessionInfo(peer: Hex.encode(mux.nodeID), session: s.id, direction: s.local ? "outbound" : "inbound",
                                  target: s.target?.description ?? "", state: s.state,
                                  local: mux.streams[s.id]?.origin ?? "", bytesIn: s.bytesIn, bytesOut: s.bytesOut,
                                  receiveWindow: s.receiveWindow, sendWindow: s.sendWindow, buffered: s.queued + s.unconsumed,
                                  ageSeconds: Double(s.age.components.seconds) + Double(s.age.components.attoseconds) / 1e18)
            }
        }
    }

    /// `stockade forward add`: a forward that lives until removed or the process restarts.
    public func addForward(listen: String, peer: String, target: String, network: String = "tcp") -> Result<String, EntryError> {
        guard network == "tcp" || network == "udp" else { return .failure(.badTarget("network must be tcp or udp, not \(network)")) }
        let id: String
        switch entryPeer(peer) {
        case .success(let full): id = Hex.encode(full)
        case .failure(let e): return .failure(e)
        }
        let f = NodeConfig.Forward(listen: listen, peer: id, target: target, network: network)
        switch listeners.add(f, runtime: true) {
        case .success: return .success("forwarding \(network == "udp" ? "UDP " : "")\(listen) to \(target) on \(id.prefix(16))…")
        case .failure(let e): return .failure(e)
        }
    }

    public func removeForward(listen: String) -> Bool { listeners.remove(listen: listen) }

    /// A socket-activated entry listener from the supervisor (`fd` is ours now); the next
    /// `configure` listens on it.
    public func inheritListener(_ entry: InheritedEntry, fd: CInt) { listeners.inherit(entry, fd: fd) }

    public func forwards() -> [ForwardInfo] {
        listeners.list.map { ForwardInfo(listen: $0.forward.listen, peer: $0.forward.peer, target: $0.forward.target, runtime: $0.runtime,
                                         network: $0.forward.network) }
    }

    /// Shares `sessions`, `openSessions` and `windowStalls` with the other loops' routers.
    public var openSessions: Int { muxes.values.reduce(0) { $0 + $1.link.liveCount } }
    /// Times a session had data and no window, over every link (ended ones included).
    public var windowStalls: UInt64 { endedStalls + muxes.values.reduce(0) { $0 + $1.link.stats.windowStalls } }
}

/// The numbers `stockade_streams_*` metrics show.
public struct StreamCounters: Sendable, Equatable {
    public init() {}
    public var opensStarted: UInt64 = 0
    public var opensRequested: UInt64 = 0
    public var opensAccepted: UInt64 = 0
    public var opensDenied: UInt64 = 0
    public var opensFailed: UInt64 = 0
    public var opensRefused: UInt64 = 0
    public var flowViolations: UInt64 = 0
    public var protocolErrors: UInt64 = 0
    public var muxBytesIn: UInt64 = 0
    public var muxBytesOut: UInt64 = 0
    public var streamBytesIn: UInt64 = 0
    public var streamBytesOut: UInt64 = 0
    public var bufferedBytes: UInt64 = 0
    /// Datagrams dropped: too large, past a session's queue, or to a destination the exit denies.
    public var datagramsDropped: UInt64 = 0
    /// Failed opens (not denials) by reason: `MuxErrorCode.metricName`.
    public var failedByReason: [String: UInt64] = [:]

    /// Adds another router's counters (the peer manager runs one router per event loop).
    public mutating func add(_ o: StreamCounters) {
        opensStarted += o.opensStarted; opensRequested += o.opensRequested; opensAccepted += o.opensAccepted
        opensDenied += o.opensDenied; opensFailed += o.opensFailed; opensRefused += o.opensRefused
        flowViolations += o.flowViolations; protocolErrors += o.protocolErrors
        muxBytesIn += o.muxBytesIn; muxBytesOut += o.muxBytesOut; streamBytesIn += o.streamBytesIn; streamBytesOut += o.streamBytesOut
        bufferedBytes += o.bufferedBytes; datagramsDropped += o.datagramsDropped
        for (k, v) in o.failedByReason { failedByReason[k, default: 0] += v }
    }

    mutating func failed(_ code: MuxErrorCode) {
        opensFailed += 1
        failedByReason[code.metricName, default: 0] += 1
    }
}

extension MuxErrorCode {
    /// The code as a Prometheus label value: connection_refused, timed_out, …
    public var metricName: String {
        switch self {
        case .generalFailure: return "general_failure"
        case .notAllowed: return "not_allowed"
        case .networkUnreachable: return "network_unreachable"
        case .hostUnreachable: return "host_unreachable"
        case .connectionRefused: return "connection_refused"
        case .timedOut: return "timed_out"
        case .notSupported: return "not_supported"
        case .addressNotSupported: return "address_not_supported"
        case .tooManySessions: return "too_many_sessions"
        case .backlogFull: return "backlog_full"
        case .bufferBudget: return "buffer_budget"
        case .flowControl: return "flow_control"
        case .unknownSession: return "unknown_session"
        case .reset: return "reset"
        case .other: return "other"
        }
    }
}

public enum EntryError: Error, CustomStringConvertible {
    case badPeer(String)
    case unknownPeer(String)
    case badTarget(String)

    public var description: String {
        switch self {
        case .badPeer(let s), .unknownPeer(let s), .badTarget(let s): return s
        }
    }
}

extension MuxAddress {
    /// The address as text a rule can read: dotted quad, IPv6 text, or the domain.
    var hostText: String {
        switch self {
        case .ipv4(let b): return b.map(String.init).joined(separator: ".")
        case .ipv6(let b): return IPAddress(bytes: b)?.description ?? description
        case .domain(let d): return d
        }
    }
}
