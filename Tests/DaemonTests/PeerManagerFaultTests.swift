import DevP2P
import Enode
import Foundation
import PeerLink
import Secp256k1
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9's faults in the peer manager, each as it was reproduced: a Ping flood that never
/// reads (fault 2), run-time static nodes lost on a restart or a reload (fault 6), and a peer
/// list cut at the IPC reply limit (fault 12).
final class PeerManagerFaultTests: XCTestCase {
    /// Fault 2 (go-ethereum GHSA-ppjg-v974-84cm): a peer that sends Pings and never reads the
    /// Pongs grew the peer manager by 230 MiB in 20 s. Now the peer is not read while its
    /// Pongs are unwritten, so the flood stalls in the kernel's buffers and the process stays small.
    func testPingFloodThatNeverReadsIsNotReadEither() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        let pm = try XCTUnwrap(daemon.rolePids()["peer-manager"], "no peer manager")
        let before = try XCTUnwrap(Self.rssKiB(pm))

        let flood = try TestPeer.dial(enode)
        // Pings as fast as the socket takes them, for at most 40 s or 4 million (a Pong is 32
        // bytes on the wire: 128 MB of answers), until a send stalls for a second: the daemon
        // stopped reading. The kernel's socket buffers on loopback take some 10 MB of Pongs
        // first (autotuned), which a loaded machine needs a while to produce.
        let end = Date().addingTimeInterval(40)
        var sent = 0, stalled = false
        while Date() < end && sent < 4_000_000 {
            do { try flood.send(.ping, timeout: .seconds(1)) } catch {
                stalled = true
                break
            }
            sent += 1
        }
        XCTAssertTrue(stalled, "the daemon kept reading \(sent) Pings from a peer that reads nothing")
        let after = try XCTUnwrap(Self.rssKiB(pm))
        XCTAssertLessThan(after - before, 48 * 1024, "peer manager grew from \(before) KiB to \(after) KiB after \(sent) Pings")

        // The node still serves everyone else.
        let other = try TestPeer.dial(enode)
        XCTAssertNoThrow(try other.ping(timeout: .seconds(5)))
        flood.close()
    }

    /// Fault 6: `add-peer` of a static node survives a peer-manager restart (redialed, still
    /// counted) and a SIGHUP with an unchanged file; `trust` survives the reload too.
    func testRunTimeStaticAndTrustedNodesSurviveRestartAndReload() throws {
        let b = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { b.stop() }
        b.logOnFailure(of: self, label: "daemon B")
        try b.waitReady()
        let enodeB = try b.enode()
        let idB = String(try EnodeURL(parsing: enodeB).nodeID.hex.prefix(16))

        let a = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { a.stop() }
        a.logOnFailure(of: self, label: "daemon A")
        try a.waitReady()
        XCTAssertEqual(try a.control(["add-peer", enodeB]).status, 0)
        let trustedURL = EnodeURL(nodeID: NodeID(publicKey: PrivateKey.generate().publicKey), ip: IPAddress("127.0.0.1"), tcpPort: 1)
        XCTAssertEqual(try a.control(["trust", trustedURL.description]).status, 0)
        XCTAssertTrue(a.waitForLog("peer added: \(idB)"), "A never dialed B")

        // The peer manager dies: its replacement dials B again and counts it static.
        let pm = try XCTUnwrap(a.rolePids()["peer-manager"])
        kill(pm, SIGKILL)
        XCTAssertTrue(a.waitForLog("peer added: \(idB)", times: 2, timeout: 30), "B was not redialed after the restart")
        let restarted = try a.status(within: 15) { ($0["static_nodes"] as? Int) == 1 }
        XCTAssertEqual(restarted["static_nodes"] as? Int, 1, "static count after the restart")
        XCTAssertEqual(restarted["trusted_nodes"] as? Int, 1, "trusted count after the restart")

        // A reload with the file unchanged keeps both.
        a.signal(SIGHUP)
        XCTAssertTrue(a.waitForLog("reloaded "), a.stderr)
        let reloaded = try a.status(within: 5) { _ in false }
        XCTAssertEqual(reloaded["static_nodes"] as? Int, 1, "static count after SIGHUP")
        XCTAssertEqual(reloaded["trusted_nodes"] as? Int, 1, "trusted count after SIGHUP")
    }

    /// Fault 12: `stockade peers` broke above about 180 peers (the reply was cut at the IPC
    /// limit). 1,000 live peers list whole, in pages joined by the supervisor.
    func testAThousandPeersList() throws {
        let peers = 1000
        let config = TestConfig.toml() + "[peers]\nmax_peers = \(peers + 50)\ndial_ratio = 1000\nmax_pending = 200\n"
        let daemon = try DaemonProcess(["run"], config: config)
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())

        // Four dialing threads; every link is kept open until the list is read.
        let links = LinkBox()
        let threads = 4
        let done = DispatchGroup()
        for t in 0..<threads {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                for _ in stride(from: t, to: peers, by: threads) {
                    guard let link = try? TestPeer.dial(enode, timeout: .seconds(20)) else { continue }
                    links.add(link)
                }
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 240), .success, "dialing 1,000 peers took over 4 minutes")
        XCTAssertEqual(links.count, peers, "not every peer was admitted")
        _ = try daemon.status(within: 20) { ($0["peers_inbound"] as? Int) == peers }

        let listed = try daemon.control(["peers", "--json"], timeout: 60)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let array = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], listed.stdout.prefix(300).description)
        XCTAssertEqual(array.count, peers)
        XCTAssertEqual(Set(array.compactMap { $0["id"] as? String }).count, peers, "every peer once")
        links.closeAll()
    }

    /// VmRSS of `pid` in KiB.
    static func rssKiB(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        }
        return nil
    }
}

/// Links held by several dialing threads.
private final class LinkBox: @unchecked Sendable {
    private let lock = NSLock()
    private var links: [PeerLink] = []
    func add(_ link: PeerLink) { lock.withLock { links.append(link) } }
    var count: Int { lock.withLock { links.count } }
    func closeAll() { lock.withLock { links.forEach { $0.close() }; links = [] } }
}
