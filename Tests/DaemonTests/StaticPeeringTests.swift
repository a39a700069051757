import DevP2P
import Enode
import Foundation
import PeerLink
import Secp256k1
import XCTest

/// Two daemons joined by a static-node entry, kept up by ping/pong under short frame timeouts.
final class StaticPeeringTests: XCTestCase {
    /// Short timeouts so several read-timeout periods pass within seconds: a peer silent for
    /// 1.5 s is dropped (frameReadTimeout), so only the 300 ms pings keep a pair connected.
    static let pingIntervalMs = 300
    static let readTimeoutMs = 1500

    func testStaticPeersStayConnectedThroughSeveralReadTimeouts() throws {
        let config = TestConfig.toml(pingIntervalMs: Self.pingIntervalMs, readTimeoutMs: Self.readTimeoutMs)
        let a = try DaemonProcess(["run"], config: config)
        defer { a.stop() }
        a.logOnFailure(of: self, label: "daemon A")
        try a.waitReady()
        let enodeA = try EnodeURL(parsing: a.enode())

        let b = try DaemonProcess(["run", "--static", enodeA.description], config: config)
        defer { b.stop() }
        b.logOnFailure(of: self, label: "daemon B")
        try b.waitReady()
        let enodeB = try EnodeURL(parsing: b.enode())
        let idA = enodeA.nodeID.hex.prefix(16), idB = enodeB.nodeID.hex.prefix(16)

        // B dials A: A has B inbound, B has A outbound.
        XCTAssertTrue(a.waitForLog("peer added: \(idB)… inbound"), "A never saw B")
        XCTAssertTrue(b.waitForLog("peer added: \(idA)… outbound 127.0.0.1:\(enodeA.tcpPort)"), "B never reached A")

        // A control peer on A that never reads, so never answers A's pings: it must be dropped
        // with ReadTimeout, which shows the timeout really is armed at this setting.
        let silent = try TestPeer.dial(enodeA)
        XCTAssertTrue(a.waitForLog("local: read timeout", timeout: 15), "the silent control peer was not dropped")
        XCTAssertEqual(try Self.disconnectReason(on: silent), .readTimeout)

        // Several read-timeout periods more: the static pair is still connected, never re-added.
        let periods = 4
        let dropped = a.waitFor(Double(periods * Self.readTimeoutMs) / 1000) { _, err in
            err.contains("peer dropped: \(idB)")
        }
        XCTAssertFalse(dropped, "A dropped B")
        XCTAssertEqual(b.count("peer dropped:"), 0, "B dropped A")
        XCTAssertEqual(a.count("peer added: \(idB)"), 1, "B was re-added on A")
        XCTAssertEqual(b.count("peer added: \(idA)"), 1, "A was re-added on B")
    }

    func testUnreachableStaticNodeIsReportedAsFailedDial() throws {
        // A node identity nobody runs, at a loopback port nothing listens on.
        let absent = PrivateKey.generate()
        let port = try freeLoopbackPort()
        let target = EnodeURL(nodeID: NodeID(publicKey: absent.publicKey), ip: IPAddress("127.0.0.1"), tcpPort: port)
        let daemon = try DaemonProcess(["run", "--static", target.description], config: TestConfig.toml())
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        XCTAssertTrue(daemon.waitFor { _, err in
            err.split(separator: "\n").contains { $0.contains("handshake failed: \(TestPeer.logID(absent))… dial failed: ") }
        }, "the failed dial was not reported")
    }

    /// Reads what the daemon sent (its pings included) until its Disconnect; the reason.
    static func disconnectReason(on link: PeerLink) throws -> DisconnectReason? {
        for _ in 0..<100 {
            let message = try link.receive(timeout: .seconds(10))
            if case .disconnect(let reason) = try? BaseProtocolMessage.decode(message) { return reason }
        }
        return nil
    }
}
