import Control
import Foundation
import XCTest

/// The control socket's JSON lines, as scripts and `socat` see them.
final class ControlProtocolTests: XCTestCase {
    func testRequestIsOneSortedJSONLine() throws {
        let line = ControlCoding.line(ControlRequest(command: .addPeer, enode: "enode://ab@1.2.3.4:5"))
        XCTAssertEqual(line.last, 0x0a)
        XCTAssertEqual(line.filter { $0 == 0x0a }.count, 1, "exactly one newline, at the end")
        XCTAssertEqual(String(decoding: line, as: UTF8.self), #"{"command":"add-peer","enode":"enode://ab@1.2.3.4:5"}"# + "\n")
    }

    func testEveryCommandRoundTripsByItsCLIName() throws {
        let names = ControlRequest.Command.allCases.map(\.rawValue)
        XCTAssertEqual(Set(names), ["status", "peers", "enode", "events", "add-peer", "remove-peer", "trust", "untrust", "disconnect",
                                    "sessions", "forwards", "forward-add", "forward-remove", "nodes", "connect"])
        for command in ControlRequest.Command.allCases {
            let request = ControlRequest(command: command, enode: "e", id: "0123abcd", reason: 4)
            XCTAssertEqual(try ControlCoding.decode(ControlRequest.self, ControlCoding.line(request).dropLast()), request)
        }
    }

    /// Every key a script reads is snake_case, acronyms included (`client_id`), and decodes back.
    func testKeysAreSnakeCase() throws {
        let peer = PeerInfo(id: "ab", clientID: "geth", address: "1.2.3.4:5", direction: "inbound", trusted: false, isStatic: true,
                            capabilities: ["stk/1"], connectedSince: 1, bytesIn: 2, bytesOut: 3)
        let text = String(decoding: ControlCoding.line(ControlReply.success(ControlResult(peers: [peer]))), as: UTF8.self)
        for key in ["\"client_id\"", "\"connected_since\"", "\"bytes_in\"", "\"bytes_out\""] { XCTAssertTrue(text.contains(key), text) }
        XCTAssertFalse(text.contains("clientID") || text.contains("bytesIn"), text)
        XCTAssertEqual(try ControlCoding.decode(ControlReply.self, Array(text.utf8).dropLast()).result?.peers, [peer])
    }

    func testHandWrittenRequestsDecode() throws {
        // What a script piping into socat would write.
        let r = try ControlCoding.decode(ControlRequest.self, Array(#"{"command":"disconnect","id":"deadbeef","reason":4}"#.utf8))
        XCTAssertEqual(r, ControlRequest(command: .disconnect, id: "deadbeef", reason: 4))
        let bare = try ControlCoding.decode(ControlRequest.self, Array(#"{"command":"status"}"#.utf8))
        XCTAssertEqual(bare, ControlRequest(command: .status))
    }

    func testUnknownCommandAndMalformedLinesAreRefused() {
        XCTAssertThrowsError(try ControlCoding.decode(ControlRequest.self, Array(#"{"command":"reboot"}"#.utf8)))
        XCTAssertThrowsError(try ControlCoding.decode(ControlRequest.self, Array(#"{"enode":"x"}"#.utf8)))
        XCTAssertThrowsError(try ControlCoding.decode(ControlRequest.self, Array("status".utf8)))
        XCTAssertThrowsError(try ControlCoding.decode(ControlRequest.self, Array(#"{"command":"disconnect","reason":300}"#.utf8)),
                             "a reason beyond one byte")
    }

    func testRepliesRoundTrip() throws {
        let peer = PeerInfo(id: String(repeating: "ab", count: 64), clientID: "geth/v1", address: "127.0.0.1:30303", direction: "inbound",
                            trusted: true, isStatic: false, capabilities: ["stk/1"], connectedSince: 1_700_000_000.5, bytesIn: 10, bytesOut: 20)
        let replies: [ControlReply] = [
            .success(ControlResult(peers: [peer])),
            .failure("no such peer: 01234567"),
            .success(ControlResult(enode: "enode://x@127.0.0.1:1")),
            .success(),
        ]
        for reply in replies {
            XCTAssertEqual(try ControlCoding.decode(ControlReply.self, ControlCoding.line(reply).dropLast()), reply)
        }
        // The field names scripts rely on (`stockade peers --json` prints these objects).
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(ControlCoding.line(peer))) as? [String: Any])
        XCTAssertEqual(Set(json.keys), ["id", "client_id", "address", "direction", "trusted", "static", "capabilities",
                                        "connected_since", "bytes_in", "bytes_out"])
        XCTAssertEqual(json["static"] as? Bool, false)
    }

    func testEventLineCarriesReasonAndWhoAsked() throws {
        let e = ControlEvent(event: "peer-dropped", id: "ab", address: "127.0.0.1:1", direction: "outbound", reason: "too_many_peers",
                             reasonCode: 4, by: "remote", detail: "remote: too many peers", time: 1)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(ControlCoding.line(e))) as? [String: Any])
        XCTAssertEqual(json["event"] as? String, "peer-dropped")
        XCTAssertEqual(json["reason"] as? String, "too_many_peers")
        XCTAssertEqual(json["reason_code"] as? Int, 4)
        XCTAssertEqual(json["by"] as? String, "remote")
        XCTAssertEqual(try ControlCoding.decode(ControlEvent.self, ControlCoding.line(e).dropLast()), e)
    }

    func testStatusLineShowsTheStatusNumbers() {
        let s = NodeStatus(enode: "e", peersInbound: 3, peersOutbound: 2, pendingHandshakes: 1, handshakesPerSecond: 7,
                           workersUp: 2, workersTotal: 3, restarts: 4, staticNodes: 0, trustedNodes: 0, uptimeSeconds: 1)
        XCTAssertEqual(s.line, "peers in 3 out 2, pending 1, handshakes 7/s, workers 2/3 up, restarts 4")
    }

    func testDisconnectReasonNames() {
        XCTAssertEqual(DisconnectReasonNames.name(0x04), "too_many_peers")
        XCTAssertEqual(DisconnectReasonNames.name(0x0a), "self")
        XCTAssertEqual(DisconnectReasonNames.name(0x42), "unknown_66")
        XCTAssertEqual(DisconnectReasonNames.code("too-many-peers"), 0x04)
        XCTAssertEqual(DisconnectReasonNames.code("Useless_Peer"), 0x03)
        XCTAssertEqual(DisconnectReasonNames.code("5"), 5)
        XCTAssertNil(DisconnectReasonNames.code("rude"))
        XCTAssertNil(DisconnectReasonNames.code("256"))
        // As a go-ethereum user types them (issue 11).
        XCTAssertEqual(DisconnectReasonNames.code("TooManyPeers"), 0x04)
        XCTAssertEqual(DisconnectReasonNames.code("DiscTooManyPeers"), 0x04)
        XCTAssertEqual(DisconnectReasonNames.code("0x04"), 0x04)
        XCTAssertEqual(DisconnectReasonNames.code("0x10"), 0x10)
        XCTAssertNil(DisconnectReasonNames.code("0xff"))
        XCTAssertNil(DisconnectReasonNames.code("0xzz"))
    }
}

/// Issue 11: the CLI finds the node the README started, and says why it cannot.
final class ControlClientSearchTests: XCTestCase {
    func testSearchOrder() {
        XCTAssertEqual(ControlClient.searchPaths("/x.sock", environment: ["STOCKADE_CONTROL_SOCKET": "/e.sock"]), ["/x.sock"])
        XCTAssertEqual(ControlClient.searchPaths(nil, environment: ["STOCKADE_CONTROL_SOCKET": "/e.sock"]), ["/e.sock"])
        XCTAssertEqual(ControlClient.searchPaths(nil, environment: [:]),
                       ["./.stockade-state/control.sock", "/run/stockade/control.sock", "/var/lib/stockade/control.sock"])
    }

    func testTheErrorNamesEveryPathAndWhatIsWrongWithIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-cli-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        for (path, expected) in [(file.path, "not a socket"), (dir.appendingPathComponent("none").path, "no such file")] {
            XCTAssertThrowsError(try ControlClient(path: path)) { error in
                XCTAssertTrue("\(error)".contains("\(path): \(expected)"), "\(error)")
                XCTAssertTrue("\(error)".contains("--control-socket"), "\(error)")
            }
        }
    }
}
