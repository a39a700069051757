import IPC

/// The live workers the acceptor routes to, with the connections each has in handshake.
///
/// The totals the admission checks read for every accepted connection (slots in use, untrusted
/// ones, untrusted ones per network) are kept as counts updated on assign and release, so a
/// connection costs O(1) however many are in flight, not a scan of every pending entry.
struct WorkerRoster {
    /// A connection in a worker's handshake: where it came from.
    struct Pending {
        let ip: String
        let trusted: Bool
        /// The /24 or /64 it came from (StartupLimits.network).
        var network: [UInt8]? = nil
    }

    struct Worker {
        let index: Int
        let channel: IPCChannel
        var pending: [UInt64: Pending] = [:]
    }

    private var workers: [Int: Worker] = [:]
    private(set) var pendingTotal = 0
    private(set) var untrustedPending = 0
    /// Untrusted handshakes in flight by network; networks with none are removed.
    private var untrustedByNetwork: [[UInt8]: Int] = [:]

    var isEmpty: Bool { workers.isEmpty }
    var count: Int { workers.count }

    mutating func add(index: Int, channel: IPCChannel) {
        remove(index: index)
        workers[index] = Worker(index: index, channel: channel)
    }

    /// Forgets a worker; its pending slots are free again (its handshakes died with it).
    @discardableResult
    mutating func remove(index: Int) -> Worker? {
        guard let worker = workers.removeValue(forKey: index) else { return nil }
        for p in worker.pending.values { uncount(p) }
        return worker
    }

    func channel(index: Int) -> IPCChannel? { workers[index]?.channel }

    /// Every live worker's channel (a copy: reading one may remove its worker).
    var channels: [IPCChannel] { workers.values.map(\.channel) }

    /// The worker with the fewest handshakes in flight (lowest index on ties, for determinism).
    func leastLoaded() -> Worker? {
        workers.values.min { ($0.pending.count, $0.index) < ($1.pending.count, $1.index) }
    }

    /// Untrusted handshakes in flight from `network`.
    func untrustedPending(inNetwork network: [UInt8]) -> Int { untrustedByNetwork[network] ?? 0 }

    mutating func assign(connectionID: UInt64, worker: Int, _ p: Pending) {
        guard workers[worker] != nil else { return }
        if let old = workers[worker]?.pending.updateValue(p, forKey: connectionID) { uncount(old) }
        pendingTotal += 1
        if !p.trusted {
            untrustedPending += 1
            if let n = p.network { untrustedByNetwork[n, default: 0] += 1 }
        }
    }

    mutating func release(connectionID: UInt64, worker: Int) -> Pending? {
        guard let p = workers[worker]?.pending.removeValue(forKey: connectionID) else { return nil }
        uncount(p)
        return p
    }

    private mutating func uncount(_ p: Pending) {
        pendingTotal -= 1
        guard !p.trusted else { return }
        untrustedPending -= 1
        if let n = p.network {
            let left = (untrustedByNetwork[n] ?? 1) - 1
            untrustedByNetwork[n] = left > 0 ? left : nil
        }
    }
}
