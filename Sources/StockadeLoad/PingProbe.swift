#if canImport(Glibc)
import Glibc
#endif
import DevP2P
import Enode
import PeerLink
import Secp256k1
import Synchronization

/// A set of live peers of the daemon, pinged round-robin from a few threads; each thread owns
/// a fixed share of the peers (peer i belongs to thread i mod threads), so a link is only ever
/// used by one thread at a time and one Ping per thread is outstanding at any moment.
final class PingProbe {
    /// One thread's peers. PeerLink is a class with mutable session state and is not Sendable;
    /// each share is handed to exactly one thread for the duration of a window and the driver
    /// touches it again only after joining that thread.
    final class Share: @unchecked Sendable {
        var links: [PeerLink]
        /// Links whose Ping failed; they are left out of later windows.
        var dead: Set<Int> = []
        var rttMilliseconds: [Double] = []
        var failures: [String] = []
        init(_ links: [PeerLink]) { self.links = links }
    }

    let shares: [Share]

    /// Deadline of one Ping round trip: go-ethereum's pingInterval (15 s) is far above any
    /// healthy round trip, so hitting this is a failure, not a slow sample.
    static let pingTimeout = Duration.seconds(15)
    /// Bound on the samples one thread keeps per window (about 10⁵ loopback round trips a second
    /// at the very most, times a window of at most 60 s, with room to spare).
    static let maxSamplesPerThreadWindow = 2_000_000
    /// Attempts to establish each probe peer before giving up on the run.
    static let connectAttempts = 3

    private init(shares: [Share]) { self.shares = shares }

    /// Establishes `peers` peers from `threads` threads (one thread per share) and keeps them.
    static func connect(to target: EnodeURL, peers: Int, threads: Int) throws(LoadError) -> PingProbe {
        let results = Mutex<[Int: [PeerLink]]>([:])
        let errors = Mutex<[String]>([])
        let workers = (0..<threads).map { share in
            LoadThread {
                var mine: [PeerLink] = []
                for _ in stride(from: share, to: peers, by: threads) {
                    var lastError = ""
                    for _ in 0..<connectAttempts {
                        let key = PrivateKey.generate()
                        let hello = Hello(clientID: "StockadeLoad (probe)", capabilities: [StockadeProtocol.capability],
                                          listenPort: 0, nodeID: key.publicKey.raw64)
                        do {
                            let link = try PeerLink.dial(target, key: key, hello: hello, timeout: HandshakeFlood.setupTimeout)
                            // The first Pong proves the peer manager holds the peer.
                            _ = try link.ping(timeout: pingTimeout)
                            mine.append(link)
                            lastError = ""
                            break
                        } catch {
                            lastError = "\(error)"
                        }
                    }
                    if !lastError.isEmpty { errors.withLock { $0.append(lastError) } }
                }
                let sendable = UncheckedLinks(mine)
                results.withLock { $0[share] = sendable.links }
            }
        }
        for w in workers { w.join() }
        let failed = errors.withLock { $0 }
        let byShare = results.withLock { $0 }
        let probe = PingProbe(shares: (0..<threads).map { Share(byShare[$0] ?? []) })
        if let first = failed.first {
            probe.close()
            throw .setup("\(failed.count) of \(peers) probe peers could not connect; first error: \(first)")
        }
        return probe
    }

    var liveCount: Int { shares.reduce(0) { $0 + $1.links.count - $1.dead.count } }

    /// Pings every live peer round-robin until `end`, `rate` Pings per second in all (spread
    /// evenly over the threads, each keeping its own schedule); returns the round-trip times
    /// (ms) and failure texts of this window.
    ///
    /// Pings are paced rather than sent back to back so that the probe measures how quickly the
    /// peer manager answers, not how long our own Pings queue behind each other: a late thread
    /// skips the slots it missed instead of catching up in a burst.
    func window(until end: ContinuousClock.Instant, rate: Double) -> (rtts: [Double], failures: [String]) {
        let interval = Duration.nanoseconds(Int64(1e9 * Double(shares.count) / rate))
        let threads = shares.map { share in
            share.rttMilliseconds = []
            share.failures = []
            return LoadThread {
                let live = share.links.indices.filter { !share.dead.contains($0) }
                guard !live.isEmpty else { return }
                var turn = 0
                var next = ContinuousClock.now
                while share.rttMilliseconds.count < PingProbe.maxSamplesPerThreadWindow {
                    sleep(until: min(next, end))
                    let now = ContinuousClock.now
                    if now >= end { return }
                    next = max(next + interval, now)
                    let index = live[turn % live.count]
                    turn += 1
                    if share.dead.contains(index) { continue }
                    do {
                        let rtt = try share.links[index].ping(timeout: PingProbe.pingTimeout)
                        share.rttMilliseconds.append(Duration.seconds(rtt) * 1000)
                    } catch {
                        share.failures.append("\(error)")
                        share.dead.insert(index)
                        if share.dead.count == share.links.count { return }
                    }
                }
            }
        }
        for t in threads { t.join() }
        return (shares.flatMap(\.rttMilliseconds), shares.flatMap(\.failures))
    }

    /// Disconnect(requested) to every peer.
    func close() {
        for share in shares {
            for link in share.links { link.disconnect(.requested) }
            share.links = []
        }
    }
}

/// Links built on one thread, carried to the driver once that thread is done with them.
private struct UncheckedLinks: @unchecked Sendable {
    let links: [PeerLink]
    init(_ links: [PeerLink]) { self.links = links }
}
