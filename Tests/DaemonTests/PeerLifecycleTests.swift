import DevP2P
import Enode
import Foundation
import PeerLink
import Secp256k1
import XCTest

/// Peers that come and go fast: the peer manager adopts each from a worker together with the
/// bytes the worker read past Hello, so a peer whose Disconnect arrives right behind its Hello
/// is handed over with that Disconnect already buffered.
final class PeerLifecycleTests: XCTestCase {
    static let rounds = 40

    func testPeersHangingUpRightAfterHelloAreEachDroppedWithTheirReason() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        let before = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))

        var ids: [String] = []
        for round in 0..<Self.rounds {
            let key = PrivateKey.generate()
            let link = try TestPeer.dial(enode, key: key)
            // Straight after Hello, before the worker's handoff has necessarily happened.
            link.disconnect(.requested)
            ids.append(TestPeer.logID(key))
            if daemon.count("killed by signal") > 0 { return XCTFail("a child died in round \(round)") }
        }
        // Each peer ends one way or the other: dropped by the peer manager with our reason, or,
        // when we were gone before the handoff, a failed handshake at the worker.
        for (round, id) in ids.enumerated() {
            let ended = daemon.waitFor(10) { _, err in
                err.contains("peer dropped: \(id)… 127.0.0.1:") && err.split(separator: "\n").contains {
                    $0.contains("peer dropped: \(id)…") && $0.contains("remote: disconnect requested")
                } || err.contains("handshake failed: \(id)… connection closed by the remote node")
            }
            XCTAssertTrue(ended, "round \(round): peer \(id) neither dropped with its reason nor failed")
        }
        XCTAssertEqual(daemon.rolePids(), before, "a child was restarted")

        // The peer set holds none of them any more: a fresh peer is served and stays.
        let link = try TestPeer.dial(enode)
        _ = try link.ping(timeout: .seconds(5))
    }
}
