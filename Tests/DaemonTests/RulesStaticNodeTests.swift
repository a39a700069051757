import Enode
import Foundation
import XCTest

/// Static nodes (go-ethereum's StaticNodes): dialed, exempt from MaxPeers, and redialed when the
/// link goes away, here after the operator's own `stockade disconnect`.
final class RulesStaticNodeTests: XCTestCase {
    func testStaticNodeIsKeptConnectedAndRedialedAfterDisconnect() throws {
        let a = try DaemonProcess(["run"], config: TestConfig.toml(name: "static-target"))
        defer { a.stop() }
        try a.waitReady()
        let enodeA = try EnodeURL(parsing: a.enode())
        let idA = String(enodeA.nodeID.hex.prefix(16))

        // MaxPeers 0: B takes no peer at all, except the static one it dials itself.
        let b = try DaemonProcess(["run", "--max-peers", "0", "--static", enodeA.description], config: TestConfig.toml())
        defer { b.stop() }
        try b.waitReady()
        let idB = String(try EnodeURL(parsing: b.enode()).nodeID.hex.prefix(16))
        XCTAssertTrue(b.waitForLog("peer added: \(idA)… outbound 127.0.0.1:\(enodeA.tcpPort)"), "B:\n\(b.stderr)\nA:\n\(a.stderr)")
        XCTAssertTrue(a.waitForLog("peer added: \(idB)… inbound"), "A:\n\(a.stderr)")
        let status = try b.status { $0["peers_outbound"] as? Int == 1 }
        XCTAssertEqual(status["static_nodes"] as? Int, 1, "\(status)")
        XCTAssertEqual(status["peers_outbound"] as? Int, 1, "\(status)")

        // Any other peer is refused by B: the static link did not open a slot.
        XCTAssertEqual(PeerAdmission.attempt(try EnodeURL(parsing: b.enode())).reason, .tooManyPeers, b.stderr)

        // The operator drops the link on B's side: B says why, and dials A again by itself.
        let dropped = try b.control(["disconnect", idA, "--reason", "requested"])
        XCTAssertEqual(dropped.status, 0, "\(dropped)")
        XCTAssertTrue(dropped.stdout.contains("disconnecting \(idA)… (disconnect requested)"), "\(dropped)")
        XCTAssertTrue(b.waitForLog("peer dropped: \(idA)… 127.0.0.1:\(enodeA.tcpPort) local: disconnect requested"), b.stderr)
        XCTAssertTrue(a.waitForLog("peer dropped: \(idB)…"), a.stderr)
        XCTAssertTrue(b.waitForLog("peer added: \(idA)… outbound", times: 2), "not redialed:\nB:\n\(b.stderr)\nA:\n\(a.stderr)")
        XCTAssertTrue(a.waitForLog("peer added: \(idB)… inbound", times: 2), "A:\n\(a.stderr)")

        // A drops it from its side with another reason: B hears it, and dials again.
        let fromA = try a.control(["disconnect", idB, "--reason", "too_many_peers"])
        XCTAssertEqual(fromA.status, 0, "\(fromA)")
        XCTAssertTrue(b.waitForLog("peer dropped: \(idA)… 127.0.0.1:\(enodeA.tcpPort) remote: too many peers"), b.stderr)
        XCTAssertTrue(b.waitForLog("peer added: \(idA)… outbound", times: 3), "not redialed:\nB:\n\(b.stderr)")
        let listed = try b.control(["peers", "--json"])
        let peers = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed)")
        XCTAssertEqual(peers.count, 1, "\(listed)")
        XCTAssertEqual(peers.first?["id"] as? String, enodeA.nodeID.hex)
        XCTAssertEqual(peers.first?["static"] as? Bool, true, "\(listed)")
    }
}
