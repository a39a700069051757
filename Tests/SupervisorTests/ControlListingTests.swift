import Control
import Foundation
import XCTest

/// Listings in pages, each entry encoded once and spliced (issue 10): the bytes on the wire
/// are the ones encoding the whole reply gives, and every key is the snake_case one scripts read.
final class ControlListingTests: XCTestCase {
    private func peer(_ i: Int) -> PeerInfo {
        var p = PeerInfo(id: String(repeating: String(format: "%02x", i % 256), count: 64), clientID: "geth/v1.\(i) \"quoted\" /slash\n",
                         address: "127.0.0.1:\(30000 + i)", direction: i % 2 == 0 ? "inbound" : "outbound", trusted: i % 3 == 0,
                         isStatic: i % 5 == 0, capabilities: ["stk/1", "eth/68"], connectedSince: 1_700_000_000.25 + Double(i),
                         bytesIn: UInt64(i), bytesOut: UInt64(2 * i))
        p.linkLoop = i % 3 == 0 ? nil : i % 2
        return p
    }

    private func object(_ bytes: some Collection<UInt8>) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// A listing page's keys, the envelope's and every entry's, are exactly the snake_case set:
    /// a CodingKey left camelCase (no key strategy converts them any more) fails here.
    func testListingPageKeysAreExactlySnakeCase() throws {
        let (json, next) = ControlListing.page((0..<3).map(peer), from: 0, key: .peers, budget: 1 << 20)
        XCTAssertNil(next)
        let reply = try object(json)
        XCTAssertEqual(Set(reply.keys), ["ok", "result"])
        let result = try XCTUnwrap(reply["result"] as? [String: Any])
        XCTAssertEqual(Set(result.keys), ["peers"])
        let peers = try XCTUnwrap(result["peers"] as? [[String: Any]])
        XCTAssertEqual(peers.count, 3)
        XCTAssertEqual(Set(peers[1].keys), ["id", "client_id", "address", "direction", "trusted", "static", "capabilities",
                                            "connected_since", "bytes_in", "bytes_out", "link_loop"])

        let paged = ControlListing.page((0..<3).map(peer), from: 1, key: .peers, budget: 10)
        XCTAssertEqual(paged.next, 2)
        XCTAssertEqual(Set(try XCTUnwrap(try object(paged.json)["result"] as? [String: Any]).keys), ["next", "peers"])

        let session = SessionInfo(peer: "ab", session: 1, direction: "outbound", target: "echo", state: "open", local: "127.0.0.1:1",
                                  bytesIn: 1, bytesOut: 2, receiveWindow: 3, sendWindow: 4, buffered: 5, ageSeconds: 6)
        let sessions = try XCTUnwrap(try XCTUnwrap(try object(ControlListing.page([session], from: 0, key: .sessions, budget: 1 << 20).json)["result"]
            as? [String: Any])["sessions"] as? [[String: Any]])
        XCTAssertEqual(Set(sessions[0].keys), ["peer", "session", "direction", "target", "state", "local", "bytes_in", "bytes_out",
                                               "receive_window", "send_window", "buffered", "age_seconds"])
    }

    /// The other replies' multi-word keys, spelled by CodingKeys now.
    func testEveryOtherKeyIsSnakeCase() throws {
        let status = NodeStatus(enode: "enode://x@127.0.0.1:1", peersInbound: 1, peersOutbound: 2, pendingHandshakes: 3, handshakesPerSecond: 4,
                                workersUp: 5, workersTotal: 6, restarts: 7, staticNodes: 8, trustedNodes: 9, uptimeSeconds: 10, degraded: ["x"])
        XCTAssertEqual(Set(try object(ControlCoding.line(status)).keys),
                       ["enode", "peers_inbound", "peers_outbound", "pending_handshakes", "handshakes_per_second", "workers_up",
                        "workers_total", "restarts", "static_nodes", "trusted_nodes", "uptime_seconds", "degraded"])
        XCTAssertTrue(String(decoding: ControlCoding.line(status), as: UTF8.self).contains("\"enode://x@127.0.0.1:1\""), "slashes unescaped")
        var result = ControlResult(message: "m")
        result.staticNodes = ["a"]
        result.trustedNodes = ["b"]
        result.next = 1
        XCTAssertEqual(Set(try object(ControlCoding.line(result)).keys), ["message", "static_nodes", "trusted_nodes", "next"])
        let reply = ControlReply(ok: false, error: "e", muxError: 4, usage: true)
        XCTAssertEqual(Set(try object(ControlCoding.line(reply)).keys), ["ok", "error", "mux_error", "usage"])
        XCTAssertEqual(try ControlCoding.decode(ControlReply.self, ControlCoding.line(reply).dropLast()), reply)
        let event = ControlEvent(event: "peer-dropped", id: "ab", address: "a", direction: "inbound", reason: "r", reasonCode: 4, by: "local",
                                 detail: "d", time: 1)
        XCTAssertEqual(Set(try object(ControlCoding.line(event)).keys),
                       ["event", "id", "address", "direction", "reason", "reason_code", "by", "detail", "time"])
        let forward = ForwardInfo(listen: "127.0.0.1:1", peer: "ab", target: "echo", runtime: true, network: "udp")
        XCTAssertEqual(Set(try object(ControlCoding.line(forward)).keys), ["listen", "peer", "target", "runtime", "network"])
        XCTAssertEqual(try ControlCoding.decode(ControlStatusProbe.self, Array(#"{"peers_inbound":3}"#.utf8)).peersInbound, 3)
    }

    private struct ControlStatusProbe: Decodable {
        var peersInbound: UInt64
        enum CodingKeys: String, CodingKey { case peersInbound = "peers_inbound" }
    }

    /// Pages end where they always did (each entry counted as its line and a comma), are byte
    /// for byte the encoded reply of their entries, and splice into the whole listing's line.
    func testPagesAreTheEncodedRepliesAndSpliceIntoTheWholeLine() throws {
        let all = (0..<300).map(peer)
        let budget = 8 * 1024
        var offset = 0, pages: [[UInt8]] = []
        while true {
            // The boundary as PeerRunLoop.page drew it before pages were spliced.
            var used = 0, end = offset
            while end < all.count {
                let size = ControlCoding.line(all[end]).count + 1
                if used + size > budget && end > offset { break }
                used += size
                end += 1
            }
            let (json, next) = ControlListing.page(all, from: offset, key: .peers, budget: budget)
            XCTAssertEqual(next, end < all.count ? end : nil)
            var result = ControlResult(peers: Array(all[offset..<end]))
            result.next = next
            XCTAssertEqual(json, Array(ControlCoding.line(ControlReply.success(result)).dropLast()))
            let (head, _) = try XCTUnwrap(ControlListing.split(json, key: .peers))
            XCTAssertEqual(head.result?.next, next)
            pages.append(json)
            guard let next else { break }
            offset = next
        }
        XCTAssertGreaterThan(pages.count, 3)
        let items = pages.compactMap { ControlListing.split($0, key: .peers)?.items }.filter { !$0.isEmpty }
        let joined = Array(items.joined(separator: [0x2c]))
        XCTAssertEqual(ControlListing.reply(.peers, items: joined[...]) + [0x0a], ControlCoding.line(ControlReply.success(ControlResult(peers: all))))
        XCTAssertEqual(ControlListing.reply(.sessions, items: []), Array(ControlCoding.line(ControlReply.success(ControlResult(sessions: []))).dropLast()))
        XCTAssertEqual(ControlListing.page([PeerInfo](), from: 0, key: .peers, budget: budget).json,
                       Array(ControlCoding.line(ControlReply.success(ControlResult(peers: []))).dropLast()))
    }

    /// What is no page is not spliced: refusals, another list, a page with a raw newline.
    func testSplitRefusesWhatIsNoPage() {
        XCTAssertNil(ControlListing.split(Array(ControlCoding.line(ControlReply.failure("no")).dropLast()), key: .peers))
        let page = ControlListing.page([peer(1)], from: 0, key: .peers, budget: 1 << 20).json
        XCTAssertNotNil(ControlListing.split(page, key: .peers))
        XCTAssertNil(ControlListing.split(page, key: .sessions))
        XCTAssertNil(ControlListing.split(Array(#"{"ok":true,"result":{"peers":[{"id":"a"}"#.utf8) + [0x0a] + Array("]}}".utf8), key: .peers))
        XCTAssertNil(ControlListing.split(Array(#"{"ok":false,"result":{"peers":[]}}"#.utf8), key: .peers))
    }
}
