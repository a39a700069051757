#if canImport(Glibc)
import Glibc
#endif
import DevP2P
import Enode
import PeerLink
import Secp256k1
import Synchronization

/// Many threads, each dialing the daemon in a loop: a fresh node key per connection (so the
/// daemon never sees the same node twice and answers AlreadyConnected), the initiator
/// handshake and Hello, one Ping whose Pong proves the peer is live in the peer manager (the
/// workers send their Hello before the handoff; only the peer manager answers Pings), then
/// Disconnect(requested). A connection counts as completed when that Pong arrives.
final class HandshakeFlood: Sendable {
    let target: EnodeURL
    let stop = StopFlag()
    private let completedCount = Atomic<Int>(0)
    private let failedCount = Atomic<Int>(0)
    private let failureReasons = Mutex<[String: Int]>([:])

    /// Connection setup deadline: go-ethereum's handshakeTimeout (5 s) is what the daemon
    /// allows; the client allows twice that so that the daemon's deadline, not ours, decides.
    static let setupTimeout = Duration.seconds(10)
    /// A failed dial waits this long before the next, so that a refusing daemon is not spun on.
    static let retryPauseMicroseconds: useconds_t = 20_000
    /// Upper bound on connections per thread, whatever the stop flag does.
    static let maxConnectionsPerThread = 1_000_000
    /// Distinct failure texts kept (they name the failure, not the connection).
    static let maxFailureKinds = 32

    init(target: EnodeURL) { self.target = target }

    var completed: Int { completedCount.load(ordering: .relaxed) }
    var failed: Int { failedCount.load(ordering: .relaxed) }
    var failures: [String: Int] { failureReasons.withLock { $0 } }

    /// Starts `threads` dialing threads, each with its scheduling priority lowered by `nice`.
    func start(threads: Int, nice: Int32 = 0) -> [LoadThread] {
        (0..<threads).map { _ in
            LoadThread { [self] in
                LoadThread.lowerCurrentPriority(by: nice)
                for _ in 0..<Self.maxConnectionsPerThread where !stop.isRaised {
                    connectOnce()
                }
            }
        }
    }

    /// Raises the stop flag and waits for every thread to finish its current connection.
    func finish(_ threads: [LoadThread]) {
        stop.raise()
        for t in threads { t.join() }
    }

    private func connectOnce() {
        let key = PrivateKey.generate()
        let hello = Hello(clientID: "StockadeLoad", capabilities: [StockadeProtocol.capability],
                          listenPort: 0, nodeID: key.publicKey.raw64)
        do {
            let link = try PeerLink.dial(target, key: key, hello: hello, timeout: Self.setupTimeout)
            _ = try link.ping(timeout: Self.setupTimeout)
            completedCount.add(1, ordering: .relaxed)
            link.disconnect(.requested)
        } catch {
            failedCount.add(1, ordering: .relaxed)
            record(error.description)
            usleep(Self.retryPauseMicroseconds)
        }
    }

    private func record(_ reason: String) {
        failureReasons.withLock { reasons in
            if reasons[reason] != nil || reasons.count < Self.maxFailureKinds {
                reasons[reason, default: 0] += 1
            } else {
                reasons["(other failures)", default: 0] += 1
            }
        }
    }
}
