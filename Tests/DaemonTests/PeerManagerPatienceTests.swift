import Enode
import Foundation
import PeerLink
import Secp256k1
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, fault 5: the process that holds the peers is given far more time than a worker,
/// and a stopped one (a VM pause, a swap storm, SIGSTOP) is told from a hung one.
final class PeerManagerPatienceTests: XCTestCase {
    func testPeerManagerStoppedForEightSecondsKeepsItsPeers() throws {
        let daemon = try DaemonProcess.ready(for: self)
        let enode = try EnodeURL(parsing: daemon.enode())
        let keys = (0..<3).map { _ in PrivateKey.generate() }
        let links = try keys.map { try TestPeer.live(enode, key: $0) }
        let before = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))
        let pm = try XCTUnwrap(before["peer-manager"])

        // Past a worker's 5 s deadline: the old supervisor killed it here and every peer went.
        kill(pm, SIGSTOP)
        XCTAssertTrue(daemon.waitForLog("peer-manager (pid \(pm)) is stopped (SIGSTOP?), not hung", timeout: 15))
        sleep(3)
        kill(pm, SIGCONT)

        for l in links { _ = try l.ping(timeout: .seconds(10)) }
        XCTAssertEqual(daemon.rolePids()["peer-manager"], pm, "the peer manager was replaced")
        XCTAssertFalse(daemon.stderr.contains("silent for"), "a child was killed for silence")
        for k in keys { XCTAssertFalse(daemon.stderr.contains("peer dropped: \(TestPeer.logID(k))")) }
        let status = try daemon.status(within: 10) { ($0["peers_inbound"] as? Int) == 3 && (($0["degraded"] as? [String]) ?? []).isEmpty }
        XCTAssertEqual(status["peers_inbound"] as? Int, 3, "\(status)")
    }
}
