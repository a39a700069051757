/// The peer manager's view of which node IDs are present and the admission rules over it:
/// go-ethereum's Server.postHandshakeChecks / addPeerChecks (server.go), enforced across the
/// process boundary, plus what go-ethereum lacks:
/// - a node ID whose handshake is in flight counts as present, so two simultaneous connections
///   from one ID cannot both pass (go-ethereum checks only established peers);
/// - a peer that passed the add-peer check counts against the limits at once, before its
///   handoff arrives, so concurrent handshakes cannot overshoot MaxPeers.
/// Pure state: no I/O, no clocks; the peer manager calls it from its run loop. Every check is
/// O(1) in the number of peers: the admitted and live counts are kept on each change of an
/// entry (`store`) rather than counted (issue 10: counting made each connection O(peers)).
public struct PeerSet: Sendable {
    public enum Direction: UInt8, Sendable { case inbound = 0, outbound = 1 }

    /// Where a node ID is in its life: checked after the encryption handshake, accepted after
    /// Hello (waiting for the worker's handoff), or live.
    public enum Stage: Sendable, Equatable { case handshaking, committed, live }

    public struct Entry: Sendable, Equatable {
        public var connectionID: UInt64
        public var direction: Direction
        public var stage: Stage
        public var trusted: Bool
        /// A dial of a static node: like go-ethereum's staticDialedConn, exempt from MaxPeers.
        public var staticDial: Bool
    }

    public struct Limits: Sendable, Equatable {
        public var maxPeers: Int
        /// go-ethereum's maxDialedConns (MaxPeers / DialRatio).
        public var maxDialed: Int
        /// go-ethereum's inbound limit: MaxPeers − maxDialedConns.
        public var maxInbound: Int
        public init(maxPeers: Int, maxDialed: Int, maxInbound: Int) {
            self.maxPeers = maxPeers; self.maxDialed = maxDialed; self.maxInbound = maxInbound
        }
    }

    public let localID: [UInt8]
    public var limits: Limits
    public var trusted: Set<[UInt8]> = []
    public private(set) var entries: [[UInt8]: Entry] = [:]
    /// Entries by stage and direction, kept by `store`: [stage][direction].
    private var tally = Tally()

    public init(localID: [UInt8], limits: Limits) {
        self.localID = localID
        self.limits = limits
    }

    /// Peers that count against the limits: live ones and those accepted awaiting handoff.
    public var admittedCount: Int { admittedCount(.inbound) + admittedCount(.outbound) }
    public func admittedCount(_ d: Direction) -> Int { tally[.committed, d] + tally[.live, d] }
    public var liveCount: Int { liveCount(.inbound) + liveCount(.outbound) }
    public func liveCount(_ d: Direction) -> Int { tally[.live, d] }

    /// The one place entries change, so the tally follows every change.
    private mutating func store(_ id: [UInt8], _ entry: Entry?) {
        if let old = entries[id] { tally[old.stage, old.direction] -= 1 }
        if let entry { tally[entry.stage, entry.direction] += 1 }
        entries[id] = entry
    }

    private mutating func setStage(_ id: [UInt8], _ stage: Stage) {
        guard var e = entries[id] else { return }
        e.stage = stage
        store(id, e)
    }

    public func contains(_ id: [UInt8]) -> Bool { entries[id] != nil }
    public func isTrusted(_ id: [UInt8]) -> Bool { trusted.contains(id) }

    /// go-ethereum's postHandshakeChecks, run with the remote ID known. On acceptance the ID is
    /// reserved for this connection until `abort`, `commit` or `drop`.
    public mutating func checkPostHandshake(id: [UInt8], direction: Direction, connectionID: UInt64, staticDial: Bool = false) -> Verdict {
        if let problem = limitProblem(id: id, direction: direction, connectionID: connectionID, staticDial: staticDial) { return .reject(problem) }
        store(id, Entry(connectionID: connectionID, direction: direction, stage: .handshaking, trusted: trusted.contains(id),
                        staticDial: staticDial))
        return .accept(trusted: trusted.contains(id))
    }

    /// go-ethereum's addPeerChecks: a shared capability, then the post-handshake checks again
    /// (the peer set may have changed during Hello). On acceptance the peer counts at once.
    public mutating func checkAddPeer(id: [UInt8], direction: Direction, connectionID: UInt64, sharesCapability: Bool) -> Verdict {
        guard let e = entries[id], e.connectionID == connectionID else {
            // The reservation is gone (the peer manager restarted, or the ID was dropped).
            return .reject(.alreadyConnected)
        }
        if !sharesCapability {
            store(id, nil)
            return .reject(.uselessPeer)
        }
        if let problem = limitProblem(id: id, direction: e.direction, connectionID: connectionID, staticDial: e.staticDial) {
            store(id, nil)
            return .reject(problem)
        }
        setStage(id, .committed)
        return .accept(trusted: e.trusted)
    }

    /// The worker handed the connection over: the peer is live. False if this connection no
    /// longer holds the ID (the handoff must then be refused and the fd closed).
    public mutating func makeLive(id: [UInt8], connectionID: UInt64) -> Bool {
        guard let e = entries[id], e.connectionID == connectionID, e.stage == .committed else { return false }
        setStage(id, .live)
        return true
    }

    /// A handshake that held a reservation failed before its handoff.
    public mutating func abort(id: [UInt8], connectionID: UInt64) {
        if let e = entries[id], e.connectionID == connectionID, e.stage != .live { store(id, nil) }
    }

    /// A live peer went away.
    public mutating func drop(id: [UInt8], connectionID: UInt64) {
        if let e = entries[id], e.connectionID == connectionID { store(id, nil) }
    }

    /// Forgets every reservation a worker held (the worker died with its handshakes).
    public mutating func abortAll(connectionIDs: Set<UInt64>) {
        for (id, e) in entries where e.stage != .live && connectionIDs.contains(e.connectionID) { store(id, nil) }
    }

    private func limitProblem(id: [UInt8], direction: Direction, connectionID: UInt64, staticDial: Bool) -> DisconnectCode? {
        let isTrusted = trusted.contains(id)
        // The others: every admitted entry but this connection's own.
        var admitted = admittedCount, admittedInbound = admittedCount(.inbound)
        if let own = entries[id], own.connectionID == connectionID, own.stage != .handshaking {
            admitted -= 1
            if own.direction == .inbound { admittedInbound -= 1 }
        }
        if !isTrusted && !staticDial && admitted >= limits.maxPeers { return .tooManyPeers }
        if !isTrusted && direction == .inbound && admittedInbound >= limits.maxInbound { return .tooManyPeers }
        if let e = entries[id], e.connectionID != connectionID { return .alreadyConnected }
        if id == localID { return .selfConnection }
        return nil
    }

    /// Entry counts by stage and direction.
    private struct Tally: Sendable {
        private var counts = [Int](repeating: 0, count: 6)
        subscript(stage: Stage, direction: Direction) -> Int {
            get { counts[Self.index(stage, direction)] }
            set { counts[Self.index(stage, direction)] = newValue }
        }
        private static func index(_ s: Stage, _ d: Direction) -> Int {
            let stage: Int
            switch s {
            case .handshaking: stage = 0
            case .committed: stage = 1
            case .live: stage = 2
            }
            return stage * 2 + Int(d.rawValue)
        }
    }

    public enum Verdict: Sendable, Equatable {
        case accept(trusted: Bool)
        case reject(DisconnectCode)
    }
}

/// The devp2p disconnect reasons the admission rules give (a subset of DevP2P's
/// DisconnectReason, kept here so the rules have no protocol dependency).
public enum DisconnectCode: UInt8, Sendable {
    case uselessPeer = 0x03
    case tooManyPeers = 0x04
    case alreadyConnected = 0x05
    case selfConnection = 0x0a
}
