import Control
import Enode
import Foundation
import PeerLink
import Secp256k1
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, fault 4 (the supervisor's half): every peer that was added gets exactly one
/// peer-dropped event, also when the peer manager dies with it; and reason 255, which meant
/// "no reason" inside the IPC, can no longer be sent by an operator.
final class DropAccountingTests: XCTestCase {
    func testPeersLostWithThePeerManagerEachGetOneDropEvent() throws {
        let daemon = try DaemonProcess.ready(for: self)
        let enode = try EnodeURL(parsing: daemon.enode())
        let events = try DaemonProcess(["events", "--control-socket", daemon.controlSocket])
        defer { events.stop() }
        usleep(300_000)

        let keys = (0..<3).map { _ in PrivateKey.generate() }
        let links = try keys.map { try TestPeer.live(enode, key: $0) }
        let ids = keys.map { NodeID(publicKey: $0.publicKey).hex }
        XCTAssertTrue(events.waitFor(15) { out, _ in ids.allSatisfy { ControlCommandTests.events(out, id: $0).count >= 1 } }, events.stdout)

        let pm = try XCTUnwrap(daemon.rolePids()["peer-manager"])
        kill(pm, SIGKILL)
        XCTAssertTrue(events.waitFor(15) { out, _ in ids.allSatisfy { ControlCommandTests.events(out, id: $0).count >= 2 } },
                      "no drop events after the peer manager died:\n\(events.stdout)")
        sleep(1)
        for id in ids {
            let mine = ControlCommandTests.events(events.stdout, id: id)
            XCTAssertEqual(mine.map { $0["event"] as? String }, ["peer-added", "peer-dropped"], events.stdout)
            let drop = mine.last
            XCTAssertEqual(drop?["by"] as? String, "local", events.stdout)
            XCTAssertEqual(drop?["reason"] as? String, "network_error", events.stdout)
            XCTAssertTrue((drop?["detail"] as? String)?.contains("peer manager restarted") == true, events.stdout)
        }
    }

    func testDisconnectWithReason255IsRefused() throws {
        let daemon = try DaemonProcess.ready(for: self)
        let enode = try EnodeURL(parsing: daemon.enode())
        let key = PrivateKey.generate()
        let link = try TestPeer.live(enode, key: key)
        let id = NodeID(publicKey: key.publicKey).hex

        for reason in ["255", "17", "0x10x"] {
            let cli = try daemon.control(["disconnect", id, "--reason", reason])
            XCTAssertNotEqual(cli.status, 0, "\(cli)")
            XCTAssertTrue(cli.stderr.contains("unknown reason"), "\(cli)")
        }
        // The control socket refuses it too, for scripts that speak JSON directly.
        let client = try ControlClient(path: daemon.controlSocket)
        let reply = try client.call(ControlRequest(command: .disconnect, id: id, reason: 255))
        XCTAssertFalse(reply.ok, "\(reply)")
        XCTAssertTrue(reply.error?.contains("not a devp2p disconnect reason") == true, "\(reply)")
        // The peer is still there; 16 (subprotocol error) is a real reason and goes through.
        _ = try link.ping(timeout: .seconds(5))
        XCTAssertEqual(try daemon.control(["disconnect", id, "--reason", "16"]).status, 0)
    }
}
