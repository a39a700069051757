import Enode
import Foundation
import PeerLink
import Secp256k1
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `stockade ping` against what is not the node the enode URL names: a running daemon dialed
/// with the wrong node ID (it cannot read an auth message encrypted to another key and hangs
/// up), and listeners that are not RLPx at all (HTTP, SSH, TLS, anything else, silence). Real
/// processes on 127.0.0.1; every wait bounded.
final class PingHintTests: XCTestCase {
    func testWrongNodeIDGetsTheHint() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml() + "[peers]\nno_dial = true\n")
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let right = try EnodeURL(parsing: daemon.enode())
        guard let ip = right.ip else { return XCTFail("no IP in \(right)") }
        let wrong = EnodeURL(nodeID: NodeID(publicKey: PrivateKey.generate().publicKey), ip: ip, tcpPort: right.tcpPort)

        let result = try DaemonProcess.stockade(["ping", wrong.description, "--count", "1", "--timeout", "10"])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertTrue(result.stderr.contains("closed the connection before sending its auth-ack"), "\(result)")
        XCTAssertTrue(result.stderr.contains("the node ID in the enode URL may be wrong"), "\(result)")
        XCTAssertTrue(result.stderr.contains("encrypted to that ID's key"), "\(result)")
        XCTAssertFalse(result.stderr.contains("Usage:"), "a runtime failure, not a usage error: \(result)")

        // The daemon is fine, and with the right ID the same command works.
        let good = try DaemonProcess.stockade(["ping", right.description, "--count", "1", "--timeout", "10"])
        XCTAssertEqual(good.status, 0, "\(good)\n\(daemon.stderr)")
    }

    func testNonRLPxRespondersAreNamed() throws {
        let http = try Self.responder(for: self, reply: Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        let named = try Self.ping(port: http.port)
        XCTAssertEqual(named.status, 1, "\(named)")
        XCTAssertTrue(named.stderr.contains("the remote sent HTTP: not an RLPx node"), "\(named)")
        XCTAssertTrue(named.stderr.contains(#"(first bytes: "HTTP/1.1 400 Bad Request…")"#), "the reply's first bytes: \(named)")
        XCTAssertFalse(named.stderr.contains("node ID"), "not a wrong ID: \(named)")

        let ssh = try Self.responder(for: self, reply: Array("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".utf8))
        let sshResult = try Self.ping(port: ssh.port)
        XCTAssertEqual(sshResult.status, 1, "\(sshResult)")
        XCTAssertTrue(sshResult.stderr.contains("the remote sent SSH: not an RLPx node"), "\(sshResult)")

        // A TLS server's alert (fatal, decode_error) to bytes that are no ClientHello.
        let tls = try Self.responder(for: self, reply: [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32])
        let tlsResult = try Self.ping(port: tls.port)
        XCTAssertEqual(tlsResult.status, 1, "\(tlsResult)")
        XCTAssertTrue(tlsResult.stderr.contains("the remote sent TLS: not an RLPx node"), "\(tlsResult)")

        // Anything else: not an auth-ack, with its first bytes as text and hex.
        let other = try Self.responder(for: self, reply: [0x00, 0x01] + Array("hello".utf8))
        let otherResult = try Self.ping(port: other.port)
        XCTAssertEqual(otherResult.status, 1, "\(otherResult)")
        XCTAssertTrue(otherResult.stderr.contains("not an RLPx auth-ack"), "\(otherResult)")
        XCTAssertTrue(otherResult.stderr.contains(#""\x00\x01hello""#), "\(otherResult)")
        XCTAssertTrue(otherResult.stderr.contains("hex 00 01 68 65 6c 6c 6f"), "\(otherResult)")

        // Silence: accepted, never answered.
        let silent = try Self.responder(for: self, reply: nil)
        let silentResult = try Self.ping(port: silent.port, timeout: "1")
        XCTAssertEqual(silentResult.status, 1, "\(silentResult)")
        XCTAssertTrue(silentResult.stderr.contains("timed out waiting for the auth-ack"), "\(silentResult)")

        // --json: the same message as an error event.
        let json = try DaemonProcess.stockade(["ping", Self.enode(port: http.port), "--count", "1", "--timeout", "10", "--json"])
        XCTAssertEqual(json.status, 1, "\(json)")
        XCTAssertTrue(json.stdout.contains(#""event":"error""#) && json.stdout.contains("the remote sent HTTP"), "\(json)")
    }

    func testReplyDescriptions() {
        XCTAssertEqual(AuthAckReply.protocolName(of: Array("HTTP/1.0 200 OK".utf8)), "HTTP")
        XCTAssertEqual(AuthAckReply.protocolName(of: Array("SSH-2.0-x".utf8)), "SSH")
        XCTAssertEqual(AuthAckReply.protocolName(of: [0x16, 0x03, 0x01, 0x00]), "TLS")
        XCTAssertEqual(AuthAckReply.protocolName(of: [0x15, 0x03]), "TLS")
        XCTAssertNil(AuthAckReply.protocolName(of: [0x16, 0x02]))
        XCTAssertNil(AuthAckReply.protocolName(of: [0x01, 0x9a]))
        XCTAssertNil(AuthAckReply.protocolName(of: []))
        let long = AuthAckReply.describe(Array(repeating: 0x41, count: 40))
        XCTAssertTrue(long.contains("\"" + String(repeating: "A", count: 24) + "…\""), long)
    }

    // MARK: helpers

    /// `stockade ping` of a random node ID at 127.0.0.1:`port`.
    static func ping(port: UInt16, timeout: String = "10") throws -> CLIResult {
        try DaemonProcess.stockade(["ping", enode(port: port), "--count", "1", "--timeout", timeout])
    }

    static func enode(port: UInt16) -> String {
        "enode://\(NodeID(publicKey: PrivateKey.generate().publicKey).hex)@127.0.0.1:\(port)"
    }

    /// A server that, as a real one would, reads what the client sent, answers `reply` (nothing
    /// when nil: it waits up to 10 s, or until stopped), and closes after the client does (read to
    /// the end first, so the close is a FIN, never a reset that could discard the reply).
    static func responder(for test: XCTestCase, reply: [UInt8]?) throws -> LoopbackServer {
        try LoopbackServer.start(for: test) { conn, server in
            let deadline = Date().addingTimeInterval(10)
            guard case .bytes = conn.read(deadline: deadline, cancelled: { server.stopped }) else { return }
            guard let reply else {
                while case .bytes = conn.read(deadline: deadline, cancelled: { server.stopped }) {}
                return
            }
            conn.write(reply, deadline: deadline, cancelled: { server.stopped })
            conn.shutdownWrite()
            while case .bytes = conn.read(deadline: deadline, cancelled: { server.stopped }) {}
        }
    }
}
