import IPC

/// The live workers the acceptor routes to, with the connections each has in handshake.
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

    var isEmpty: Bool { workers.isEmpty }
    var count: Int { workers.count }
    var pendingTotal: Int { workers.values.reduce(0) { $0 + $1.pending.count } }
    var untrustedPending: Int { workers.values.reduce(0) { $0 + $1.pending.values.filter { !$0.trusted }.count } }

    mutating func add(index: Int, channel: IPCChannel) { workers[index] = Worker(index: index, channel: channel) }

    /// Forgets a worker; its pending slots are free again (its handshakes died with it).
    @discardableResult
    mutating func remove(index: Int) -> Worker? { workers.removeValue(forKey: index) }

    func channel(index: Int) -> IPCChannel? { workers[index]?.channel }

    /// The worker with the fewest handshakes in flight (lowest index on ties, for determinism).
    func leastLoaded() -> Worker? {
        workers.values.min { ($0.pending.count, $0.index) < ($1.pending.count, $1.index) }
    }

    /// Untrusted handshakes in flight from `network`.
    func untrustedPending(inNetwork network: [UInt8]) -> Int {
        workers.values.reduce(0) { $0 + $1.pending.values.filter { !$0.trusted && $0.network == network }.count }
    }

    mutating func assign(connectionID: UInt64, worker: Int, _ p: Pending) { workers[worker]?.pending[connectionID] = p }

    mutating func release(connectionID: UInt64, worker: Int) -> Pending? { workers[worker]?.pending.removeValue(forKey: connectionID) }
}
