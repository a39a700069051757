import DevP2P
import Enode
import Foundation
import PeerLink
import XCTest

/// go-ethereum's peer limits against a running daemon, each provoked by real peers (PeerLink
/// clients with keys of their own) and checked by the Disconnect reason the peer receives.
final class RulesLimitTests: XCTestCase {
    /// MaxPeers 2 with --no-dial: nothing is dialed, so the inbound limit is MaxPeers itself
    /// (go-ethereum's maxDialedConns is 0 under NoDial). A trusted node gets in above it.
    func testMaxPeersRefusesWithTooManyPeersButNotATrustedNode() throws {
        let trusted = TestIdentity()
        let daemon = try DaemonProcess(["run", "--no-dial", "--max-peers", "2", "--trusted", trusted.enode], config: TestConfig.toml())
        defer { daemon.stop() }
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())

        let first = PeerAdmission.attempt(enode), second = PeerAdmission.attempt(enode)
        XCTAssertNotNil(first.link, "\(first)\n\(daemon.stderr)")
        XCTAssertNotNil(second.link, "\(second)\n\(daemon.stderr)")
        let third = PeerAdmission.attempt(enode)
        XCTAssertEqual(third.reason, .tooManyPeers, "\(third)\n\(daemon.stderr)")

        // go-ethereum's TrustedNodes: allowed above the limit, and it counts as a peer.
        let t = PeerAdmission.attempt(enode, key: trusted.key)
        XCTAssertNotNil(t.link, "trusted node: \(t)\n\(daemon.stderr)")
        XCTAssertTrue(daemon.waitForLog("peer added: \(trusted.shortID)… inbound"), daemon.stderr)
        let status = try daemon.status { $0["peers_inbound"] as? Int == 3 }
        XCTAssertEqual(status["peers_inbound"] as? Int, 3, "\(status)")
        XCTAssertEqual(status["trusted_nodes"] as? Int, 1, "\(status)")

        // Still full for everyone else; a slot freed by a leaving peer is taken again.
        XCTAssertEqual(PeerAdmission.attempt(enode).reason, .tooManyPeers)
        first.link?.disconnect(.requested)
        XCTAssertTrue(daemon.waitForLog("remote: disconnect requested"), daemon.stderr)
        // Trusted and one untrusted peer are left: 2 of 2 counted, so still full.
        XCTAssertEqual(PeerAdmission.attempt(enode).reason, .tooManyPeers, daemon.stderr)
        t.link?.disconnect(.requested)
        XCTAssertTrue(daemon.waitForLog("remote: disconnect requested", times: 2), daemon.stderr)
        XCTAssertNotNil(PeerAdmission.attempt(enode).link, "a slot is free again:\n\(daemon.stderr)")
        withExtendedLifetime((first, second, t)) {}
    }

    /// MaxPeers 3, DialRatio 3: one slot is kept for dialed peers, so at most 3 − 3/3 = 2 are
    /// inbound. The third inbound peer is refused with two peers of three.
    func testInboundLimitIsMaxPeersMinusTheDialedShare() throws {
        let daemon = try DaemonProcess(["run", "--max-peers", "3", "--dial-ratio", "3"], config: TestConfig.toml())
        defer { daemon.stop() }
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())

        let kept = [PeerAdmission.attempt(enode), PeerAdmission.attempt(enode)]
        for k in kept { XCTAssertNotNil(k.link, "\(k)\n\(daemon.stderr)") }
        let third = PeerAdmission.attempt(enode)
        XCTAssertEqual(third.reason, .tooManyPeers, "\(third)\n\(daemon.stderr)")
        let status = try daemon.status { $0["peers_inbound"] as? Int == 2 }
        XCTAssertEqual(status["peers_inbound"] as? Int, 2, "below MaxPeers, at the inbound limit: \(status)")
        XCTAssertEqual(status["peers_outbound"] as? Int, 0, "\(status)")

        // With DialRatio 1 every slot is a dialed one: no inbound peer at all.
        let dialOnly = try DaemonProcess(["run", "--max-peers", "3", "--dial-ratio", "1"], config: TestConfig.toml())
        defer { dialOnly.stop() }
        try dialOnly.waitReady()
        let refused = PeerAdmission.attempt(try EnodeURL(parsing: dialOnly.enode()))
        XCTAssertEqual(refused.reason, .tooManyPeers, "\(refused)\n\(dialOnly.stderr)")
        withExtendedLifetime(kept) {}
    }
}
