import DevP2P
import Enode
import Foundation
import PeerLink
import Secp256k1
import XCTest

/// An inbound peer against a running daemon: the whole path acceptor → worker → peer manager.
final class InboundPingTests: XCTestCase {
    static let nodeName = "stockade-e2e/inbound"

    func testPeerLinkHandshakeHelloAndPings() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml(name: Self.nodeName))
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())

        let key = PrivateKey.generate()
        let link = try TestPeer.dial(enode, key: key)
        // The remote Hello is the daemon's: its key, its configured name, its capability.
        let hello = link.session.remoteHello
        XCTAssertEqual(hello.nodeID, enode.nodeID.bytes)
        XCTAssertEqual(hello.clientID, Self.nodeName)
        XCTAssertTrue(hello.capabilities.contains(StockadeProtocol.capability), "\(hello.capabilities)")
        for _ in 0..<3 { _ = try link.ping(timeout: .seconds(5)) }

        // The peer manager counts us as an inbound peer under our identity and client id.
        let ourID = TestPeer.logID(key)
        XCTAssertTrue(daemon.waitForLog("peer added: \(ourID)… inbound 127.0.0.1:"))
        XCTAssertTrue(daemon.stderr.contains("\"\(TestPeer.clientID)\""))

        // Our Disconnect reaches it with its reason.
        link.disconnect(.requested)
        XCTAssertTrue(daemon.waitFor { _, err in
            err.split(separator: "\n").contains { $0.contains("peer dropped: \(ourID)") && $0.contains("remote: disconnect requested") }
        })
    }

    func testStockadePingCommand() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml(name: Self.nodeName))
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try daemon.enode()

        let ping = try DaemonProcess(["ping", enode, "--count", "3", "--timeout", "10"])
        defer { ping.stop() }
        ping.logOnFailure(of: self)
        let status = ping.waitExit(timeout: 30)
        // The reader threads may still be draining the pipes after the exit.
        ping.waitFor(5) { out, _ in out.contains("disconnected (requested)") }
        XCTAssertEqual(status, 0, "stdout:\n\(ping.stdout)\nstderr:\n\(ping.stderr)")
        XCTAssertTrue(ping.stdout.contains("remote hello: client \"\(Self.nodeName)\", p2p version 5, capabilities [stk/1]"), ping.stdout)
        for seq in 1...3 { XCTAssertTrue(ping.stdout.contains("pong \(seq): "), ping.stdout) }
        XCTAssertTrue(ping.stdout.contains("3 ping(s), median"), ping.stdout)
        // The daemon saw it come and go.
        XCTAssertTrue(daemon.waitForLog("peer added: "))
        XCTAssertTrue(daemon.waitForLog("remote: disconnect requested"))
    }
}
