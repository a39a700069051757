import Enode
import Foundation
import PeerLink
import XCTest

/// Handshake slots: go-ethereum's MaxPendingPeers, and the slots Stockade keeps for trusted
/// nodes' addresses so that passive connections cannot take them all (go-ethereum issue 29329).
final class RulesPendingTests: XCTestCase {
    /// Every handshake here is either finished by a test peer or held by a silent connection,
    /// which keeps its slot until this deadline: far beyond any wait below.
    static let config = "[workers]\ncount = \(TestConfig.workers)\nhandshake_timeout_ms = 30000\nfirst_bytes_timeout_ms = 30000\n"

    func testMaxPendingHoldsNewConnectionsUntilASlotIsFree() throws {
        let daemon = try DaemonProcess(["run", "--max-pending", "1"], config: Self.config)
        defer { daemon.stop() }
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())

        // A silent connection takes the only handshake slot.
        let silent = try RawConnection(to: enode)
        // A real peer meanwhile waits in the listen backlog: neither served nor refused.
        let result = LockedResults<PeerAdmission>()
        Thread.detachNewThread { result.append(PeerAdmission.attempt(enode)) }
        XCTAssertFalse(daemon.waitFor(2) { _, _ in !result.all.isEmpty }, "served with no free slot: \(result.all)")

        // The slot frees when the silent one leaves; the waiting peer is served then.
        silent.close()
        XCTAssertTrue(daemon.waitFor(15) { _, _ in !result.all.isEmpty }, daemon.stderr)
        XCTAssertNotNil(result.all.first?.link, "\(result.all)\n\(daemon.stderr)")
        XCTAssertFalse(daemon.stderr.contains("refused"), daemon.stderr)
    }

    func testLastHandshakeSlotsAreKeptForTrustedAddresses() throws {
        let trusted = TestIdentity()   // at 127.0.0.1
        let config = Self.config + "[peers]\nmax_pending = 3\ntrusted_pending_slots = 2\ntrusted = [\"\(trusted.enode)\"]\n"
        let daemon = try DaemonProcess(["run"], config: config)
        defer { daemon.stop() }
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())

        // One untrusted source may hold 3 − 2 = 1 slot; a second untrusted one is closed at once.
        let holder = try LoopbackSourceConnection(from: "127.0.0.2", to: enode)
        let second = try LoopbackSourceConnection(from: "127.0.0.3", to: enode)
        XCTAssertTrue(second.waitClosedByRemote(timeout: 10), "second untrusted connection left open:\n\(daemon.stderr)")
        XCTAssertTrue(daemon.waitForLog("refused 127.0.0.3:"), daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains("remaining handshake slots are kept for trusted nodes"), daemon.stderr)
        XCTAssertFalse(holder.waitClosedByRemote(timeout: 0.5), "the first untrusted connection keeps its slot")

        // The trusted node's address still gets a handshake, and the node its place.
        let t = PeerAdmission.attempt(enode, key: trusted.key)
        XCTAssertNotNil(t.link, "\(t)\n\(daemon.stderr)")
        XCTAssertTrue(daemon.waitForLog("peer added: \(trusted.shortID)… inbound"), daemon.stderr)
        withExtendedLifetime((holder, t)) {}
    }
}
