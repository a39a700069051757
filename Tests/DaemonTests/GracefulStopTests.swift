import DevP2P
import Enode
import Foundation
import PeerLink
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM (systemctl stop): every peer is told Quitting before its connection closes.
final class GracefulStopTests: XCTestCase {
    func testSigtermSendsQuittingToEveryPeerBeforeClosing() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        let links = try (0..<4).map { _ in try TestPeer.dial(enode) }
        for link in links { _ = try link.ping(timeout: .seconds(5)) }
        XCTAssertTrue(daemon.waitForLog("peer added: ", times: links.count))
        let children = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))

        daemon.signal(SIGTERM)
        for (i, link) in links.enumerated() {
            var reason: DisconnectReason?
            // Pings may come first; the Disconnect must come before the end of the stream.
            for _ in 0..<100 where reason == nil {
                let message = try link.receive(timeout: .seconds(10))
                if case .disconnect(let r) = try? BaseProtocolMessage.decode(message) { reason = r }
            }
            XCTAssertEqual(reason, .quitting, "peer \(i)")
            // Then the daemon closes the connection.
            XCTAssertThrowsError(try link.receive(timeout: .seconds(10))) { error in
                guard case PeerLinkError.closedByRemote = error else { return XCTFail("peer \(i): \(error)") }
            }
        }
        XCTAssertEqual(daemon.waitExit(timeout: 15), 0)
        XCTAssertTrue(daemon.stderr.contains("stopping (SIGTERM)"))
        // No role outlives the supervisor.
        for (role, pid) in children {
            let end = Date().addingTimeInterval(5)
            while ProcessTable.state(pid) != nil && Date() < end { usleep(20_000) }
            XCTAssertNil(ProcessTable.state(pid), "\(role) still running after the supervisor exited")
        }
    }
}
