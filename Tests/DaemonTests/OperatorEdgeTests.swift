import Control
import Enode
import Foundation
import Secp256k1
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 11's command-line edges, on a real daemon: an unspecified address is no place to dial,
/// a known static node at a new address is moved, `ping --count 0` is a usage error, an
/// unknown control command is answered with the list, and `events` ends non-zero when the
/// daemon goes away.
final class OperatorEdgeTests: XCTestCase {
    func testAddPeerAddressesPingCountUnknownCommandsAndEventsEnd() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml() + "[peers]\nno_dial = true\n")
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let node = NodeID(publicKey: PrivateKey.generate().publicKey)

        for unspecified in ["0.0.0.0", "[::]"] {
            let refused = try daemon.control(["add-peer", "enode://\(node.hex)@\(unspecified):30303"])
            XCTAssertNotEqual(refused.status, 0, "\(unspecified): \(refused)")
            XCTAssertTrue(refused.stderr.contains("unspecified address"), "\(refused)")
        }

        XCTAssertEqual(try daemon.control(["add-peer", "enode://\(node.hex)@127.0.0.1:30303"]).status, 0)
        let moved = try daemon.control(["add-peer", "enode://\(node.hex)@127.0.0.2:30304"])
        XCTAssertEqual(moved.status, 0, "\(moved)")
        XCTAssertTrue(moved.stdout.contains("now at 127.0.0.2:30304 (was 127.0.0.1:30303)"), "\(moved)")
        let again = try daemon.control(["add-peer", "enode://\(node.hex)@127.0.0.2:30304"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("already a static node"), "\(again)")
        // `stockade nodes` lists them as they stand: the moved address, and a run-time trust.
        let trusted = "enode://\(NodeID(publicKey: PrivateKey.generate().publicKey).hex)@127.0.0.3:30303"
        XCTAssertEqual(try daemon.control(["trust", trusted]).status, 0)
        let nodes = try daemon.control(["nodes", "--json"])
        let lists = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(nodes.stdout.utf8)) as? [String: [String]], "\(nodes)")
        XCTAssertEqual(lists["static"], ["enode://\(node.hex)@127.0.0.2:30304"], "\(nodes)")
        XCTAssertEqual(lists["trusted"], [trusted], "\(nodes)")

        // Status numbers come with the once-a-second heartbeat.
        let counted = try daemon.status(within: 10) { ($0["static_nodes"] as? Int) == 1 }
        XCTAssertEqual(counted["static_nodes"] as? Int, 1, "moved, not added twice")

        let zero = try DaemonProcess.stockade(["ping", try daemon.enode(), "--count", "0"])
        XCTAssertEqual(zero.status, 64, "\(zero)")
        XCTAssertTrue(zero.stderr.contains("--count"), "\(zero)")

        // disconnect takes an enode URL and a reason as go-ethereum spells it; the peer hears it.
        let key = PrivateKey.generate()
        let link = try TestPeer.dial(try EnodeURL(parsing: daemon.enode()), key: key)
        let url = "enode://\(NodeID(publicKey: key.publicKey).hex)@127.0.0.1:1"
        let dropped = try daemon.control(["disconnect", url, "--reason", "TooManyPeers"])
        XCTAssertEqual(dropped.status, 0, "\(dropped)")
        XCTAssertEqual(try StaticPeeringTests.disconnectReason(on: link), .tooManyPeers)
        let short = try daemon.control(["disconnect", "abc"])
        XCTAssertEqual(short.status, 64, "\(short)")
        XCTAssertTrue(short.stderr.contains("not a node ID"), "\(short)")

        // A script that mistypes a command hears which commands there are.
        let reply = try Self.rawRequest(#"{"command":"peerz"}"#, socket: daemon.controlSocket)
        XCTAssertTrue(reply.contains("unknown command peerz"), reply)
        XCTAssertTrue(reply.contains("status") && reply.contains("sessions"), reply)

        // events: every event printed, then a non-zero exit once the daemon is gone.
        let events = try DaemonProcess(["events", "--control-socket", daemon.controlSocket])
        defer { events.stop() }
        usleep(500_000)
        daemon.signal(SIGTERM)
        XCTAssertNotNil(daemon.waitExit(timeout: 15), "the daemon did not stop")
        let status = events.waitExit(timeout: 15)
        XCTAssertNotNil(status, "events kept running after the daemon left")
        XCTAssertNotEqual(status, 0, events.stderr)
        XCTAssertTrue(events.stderr.contains("closed the event stream"), events.stderr)
    }

    /// One request line on the control socket; the reply line.
    static func rawRequest(_ line: String, socket path: String) throws -> String {
        let client = try ControlClient(path: path)
        let bytes = Array((line + "\n").utf8)
        guard bytes.withUnsafeBytes({ write(client.fileDescriptor, $0.baseAddress, $0.count) }) == bytes.count else {
            throw DaemonTestError("cannot write the request")
        }
        return String(decoding: try client.readLine(timeoutSeconds: 10) ?? [], as: UTF8.self)
    }
}
