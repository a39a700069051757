/// Which static nodes to dial and when (go-ethereum's dialScheduler, static part): a static
/// node that is neither connected nor being dialed is dialed; after a failure it waits, with
/// the wait doubling from `initialBackoff` to `maximumBackoff`, and a connection resets it.
/// Pure state with an injected clock, so the rules are tested without waiting.
struct DialScheduler {
    struct Target: Equatable {
        let nodeID: [UInt8]
        let ip: String
        let port: UInt16
    }

    /// go-ethereum waits dialHistoryExpiration (inboundThrottleTime + 5 s = 35 s) before dialing
    /// a node again; Stockade starts at 1 s and doubles, so a static peer that restarts is back
    /// within seconds while a dead one costs one dial a minute at most.
    static let initialBackoff: Duration = .seconds(1)
    static let maximumBackoff: Duration = .seconds(60)

    private struct State {
        var target: Target
        var dialing: UInt64?          // connection id of the dial in flight
        var notBefore: ContinuousClock.Instant?
        var backoff: Duration = DialScheduler.initialBackoff
    }

    private var nodes: [[UInt8]: State] = [:]

    var targets: [Target] { nodes.values.map(\.target) }

    mutating func add(_ t: Target) {
        if nodes[t.nodeID] == nil { nodes[t.nodeID] = State(target: t) }
        else { nodes[t.nodeID]?.target = t }
    }

    mutating func remove(nodeID: [UInt8]) { nodes[nodeID] = nil }

    func isStatic(_ nodeID: [UInt8]) -> Bool { nodes[nodeID] != nil }

    func isDialing(connectionID: UInt64) -> Bool { nodes.values.contains { $0.dialing == connectionID } }

    /// The nodes to dial now: not present, not being dialed, past their backoff.
    func due(now: ContinuousClock.Instant, isPresent: ([UInt8]) -> Bool) -> [Target] {
        nodes.values.filter { s in
            s.dialing == nil && !isPresent(s.target.nodeID) && (s.notBefore.map { now >= $0 } ?? true)
        }.map(\.target)
    }

    mutating func started(nodeID: [UInt8], connectionID: UInt64) { nodes[nodeID]?.dialing = connectionID }

    /// A dial ended without a peer: wait, then try again with a longer wait next time.
    mutating func failed(connectionID: UInt64, now: ContinuousClock.Instant) {
        guard let key = nodes.first(where: { $0.value.dialing == connectionID })?.key else { return }
        nodes[key]?.dialing = nil
        let wait = nodes[key]!.backoff
        nodes[key]?.notBefore = now + wait
        nodes[key]?.backoff = min(wait * 2, Self.maximumBackoff)
    }

    /// A connection to the node exists (dialed or inbound): the backoff starts over.
    mutating func connected(nodeID: [UInt8]) {
        nodes[nodeID]?.dialing = nil
        nodes[nodeID]?.notBefore = nil
        nodes[nodeID]?.backoff = Self.initialBackoff
    }

    /// The node's peer went away: redial after the initial backoff.
    mutating func disconnected(nodeID: [UInt8], now: ContinuousClock.Instant) {
        nodes[nodeID]?.notBefore = now + Self.initialBackoff
    }
}
