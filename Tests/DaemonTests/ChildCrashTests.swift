import DevP2P
import Enode
import Foundation
import PeerLink
import Secp256k1
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// kill -9 of a child under load: what ARCHITECTURE.md "Restarts" promises for a worker and for
/// the acceptor.
final class ChildCrashTests: XCTestCase {
    func testWorkerKilledWhileHandshakesStreamIn() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        let liveKey = PrivateKey.generate()
        let live = try TestPeer.dial(enode, key: liveKey)
        _ = try live.ping(timeout: .seconds(5))

        let before = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))
        let victim = try XCTUnwrap(before["worker[0]"])
        // Descriptor baselines of every process, with the live peer in place and nothing else.
        var baseline = FDCounts.stable(of: before.merging(["supervisor": daemon.pid]) { $1 })

        let load = DialLoad(enode)
        XCTAssertTrue(load.waitForSuccesses(beyond: 0, count: 3), "no handshake under load: \(load.failureMessages)")
        kill(victim, SIGKILL)
        XCTAssertTrue(daemon.waitForLog("worker[0] (pid \(victim)) killed by signal 9"))
        let after = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount) { $0["worker[0]"] != victim },
                                  "worker[0] was not restarted")

        // New handshakes are served again, the live peer never noticed.
        XCTAssertTrue(load.waitForSuccesses(beyond: load.successCount, count: 5), "\(load.failureMessages)")
        load.stop()
        _ = try live.ping(timeout: .seconds(5))
        XCTAssertFalse(daemon.stderr.contains("peer dropped: \(TestPeer.logID(liveKey))"))
        for role in ["acceptor", "peer-manager", "worker[1]"] { XCTAssertEqual(after[role], before[role], "\(role) was restarted") }

        // Once the load stops every process is back to its descriptor count (the new worker to
        // its predecessor's), and nothing is left unreaped.
        baseline["worker[0]"] = (baseline["worker[0]"]!.count, after["worker[0]"]!)
        let settled = FDCounts.waitForBaseline(baseline, timeout: 15)
        XCTAssertTrue(settled.isEmpty, "descriptor counts off baseline: \(settled)")
        XCTAssertEqual(ProcessTable.zombies(of: daemon.pid), [])
        XCTAssertNil(ProcessTable.state(victim), "the killed worker is still in the process table")
    }

    func testAcceptorKilledRefusesNoConnection() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        let before = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))
        let victim = try XCTUnwrap(before["acceptor"])
        let address = try XCTUnwrap(SocketAddress(ip: "127.0.0.1", port: enode.tcpPort))

        kill(victim, SIGKILL)
        // Dials started while the acceptor is dead or restarting: each must connect (the
        // listening socket stays with the supervisor) and be served once the acceptor is back.
        let dials = ConcurrentDials(enode, count: 6)
        // Meanwhile, bare connects until the successor is up: none may be refused.
        var attempts = 0, refused = 0, otherErrors: [String] = []
        while daemon.rolePids()["acceptor"].map({ $0 == victim }) ?? true, attempts < 500 {
            attempts += 1
            do { _ = try RawConnection(to: address, timeoutMilliseconds: 2000) } catch let e as TCPSocket.SocketError {
                if e.errno == ECONNREFUSED { refused += 1 } else { otherErrors.append(e.description) }
            }
            usleep(5_000)
        }
        XCTAssertEqual(refused, 0, "connections refused during the acceptor restart")
        XCTAssertEqual(otherErrors, [])

        let results = dials.wait(timeout: 30)
        XCTAssertEqual(results.count, 6)
        for r in results { XCTAssertNil(r, "a dial during the restart failed: \(r ?? "")") }
        XCTAssertTrue(daemon.stderr.contains("acceptor (pid \(victim)) killed by signal 9"))
        let after = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount) { $0["acceptor"] != victim })
        for role in ["peer-manager", "worker[0]", "worker[1]"] { XCTAssertEqual(after[role], before[role], "\(role) was restarted") }
        XCTAssertEqual(ProcessTable.zombies(of: daemon.pid), [])
    }
}

/// `count` dials started at once on their own threads, each a handshake, Hello and one ping;
/// the result of each is nil on success or what failed.
final class ConcurrentDials: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [String?] = []
    private let expected: Int

    init(_ enode: EnodeURL, count: Int) {
        expected = count
        for _ in 0..<count {
            Thread.detachNewThread { [self] in
                var outcome: String?
                do {
                    let link = try TestPeer.dial(enode, timeout: .seconds(20))
                    _ = try link.ping(timeout: .seconds(5))
                    link.disconnect(.requested)
                } catch {
                    outcome = "\(error)"
                }
                lock.withLock { results.append(outcome) }
            }
        }
    }

    func wait(timeout: TimeInterval) -> [String?] {
        let end = Date().addingTimeInterval(timeout)
        while lock.withLock({ results.count }) < expected && Date() < end { usleep(10_000) }
        return lock.withLock { results }
    }
}

/// Open-descriptor counts of the daemon's processes (/proc/PID/fd).
enum FDCounts {
    /// Each process's count once two samples 300 ms apart agree (a handoff or close in flight
    /// settles first), keyed like `DaemonProcess.rolePids`, with the pid it was taken from.
    static func stable(of pids: [String: Int32]) -> [String: (count: Int, pid: Int32)] {
        var previous = pids.mapValues { ProcessTable.fdCount($0) }
        for _ in 0..<20 {
            usleep(300_000)
            let now = pids.mapValues { ProcessTable.fdCount($0) }
            if now == previous { break }
            previous = now
        }
        return previous.reduce(into: [:]) { out, e in out[e.key] = (e.value, pids[e.key]!) }
    }

    /// Waits until every process has its baseline count again; the ones that did not, with
    /// their (baseline, now) counts.
    static func waitForBaseline(_ baseline: [String: (count: Int, pid: Int32)], timeout: TimeInterval) -> [String: (Int, Int)] {
        let end = Date().addingTimeInterval(timeout)
        var off: [String: (Int, Int)] = [:]
        repeat {
            off = [:]
            for (role, b) in baseline {
                let now = ProcessTable.fdCount(b.pid)
                if now != b.count { off[role] = (b.count, now) }
            }
            if off.isEmpty { return off }
            usleep(100_000)
        } while Date() < end
        return off
    }
}
