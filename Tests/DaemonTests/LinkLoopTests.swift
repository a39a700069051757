import Enode
import Foundation
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Links spread over the peer manager's event loops (`[node] link_threads`, issue 10): entry A
/// with two link loops and two exits B1, B2. The two links land on different loops (the
/// `link_loop` field of `stockade peers --json`), and sessions over both carry exact bytes at
/// the same time, through forwards and through the SOCKS5 entry (which runs on loop 0 and
/// reaches the other loop's link through a bridge), with half-closes and refusals carried, and
/// UDP datagrams through a UDP forward and SOCKS5 UDP ASSOCIATE (both on loop 0; the datagrams
/// for the other loop's link cross as messages).
final class LinkLoopTests: XCTestCase {
    func testTwoLinksOnTwoLoopsBothCarryStreams() throws {
        let size = 16 << 20
        let source = try LoopbackServer.source(for: self, seed: 5, count: size)
        let trailer = Array("\n-- end of echo --\n".utf8)
        let echo = try LoopbackServer.echo(for: self, trailer: trailer)
        let udpEcho = try LoopbackUDPServer.echo()
        defer { udpEcho.stop() }
        let aKey = try NodeKeyOnDisk(in: try scratchDirectory(for: self))
        var exits: [(daemon: DaemonProcess, enode: String, id: String)] = []
        // Both exits offer the UDP service `uecho` too: one SOCKS5 association talks to both, and
        // each reply must come back named with its own peer's name.
        for (i, label) in ["exit B1", "exit B2"].enumerated() {
            let b = try DaemonProcess.started(for: self, label: label, config: streamsConfig(key: nil, """
                [services]
                bulk = "127.0.0.1:\(source.port)"
                echo = "127.0.0.1:\(echo.port)"
                uecho\(i) = "127.0.0.1:\(udpEcho.port)"
                uecho = "127.0.0.1:\(udpEcho.port)"
                [[allow]]
                peers = ["\(aKey.id)"]
                targets = ["bulk", "echo", "uecho\(i)", "uecho"]
                """))
            let enode = try b.enode()
            exits.append((b, enode, try EnodeURL(parsing: enode).nodeID.hex))
        }
        let forwards = [try freeLoopbackPort(), try freeLoopbackPort()]
        let socks = try freeLoopbackPort()
        let udpForwards = [try freeLoopbackUDPPort(), try freeLoopbackUDPPort()]
        let a = try DaemonProcess.started(for: self, label: "entry A", config: streamsConfig(key: aKey, """
            [peers]
            static = ["\(exits[0].enode)", "\(exits[1].enode)"]
            [socks5]
            listen = "127.0.0.1:\(socks)"
            \(zip(forwards, exits).map { "[[forward]]\nlisten = \"127.0.0.1:\($0.0)\"\npeer = \"\($0.1.id)\"\ntarget = \"bulk\"" }
                .joined(separator: "\n"))
            \(exits.indices.map { UDPTunnel.forward(listen: udpForwards[$0], peer: exits[$0].id, target: "uecho\($0)", udp: true) }.joined())
            """), arguments: ["--link-threads", "2"])
        for exit in exits { try a.waitForPeer(exit.id) }

        // One link per loop: the first adopted goes to the run loop, the second to the other.
        let listed = try ControlCommandTests.peers(a)
        let loops = Dictionary(uniqueKeysWithValues: listed.compactMap { p in (p["id"] as? String).map { ($0, p["link_loop"] as? Int) } })
        XCTAssertEqual(Set(exits.compactMap { loops[$0.id] ?? nil }), [0, 1], "link loops by peer: \(listed)")

        // Both links busy at once, every byte checked.
        let results = ResultBox()
        let group = DispatchGroup()
        for (i, port) in forwards.enumerated() {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                guard let client = try? TCPConn.connect(port: port) else { return results.set(i, "no connection") }
                var checker = PatternChecker(seed: 5)
                let r = client.drain(into: &checker, count: size, deadline: Date().addingTimeInterval(300))
                results.set(i, r == .bytes([]) && checker.count == size && checker.firstMismatch == nil
                    ? "ok" : "\(checker.count) bytes, mismatch at \(checker.firstMismatch ?? -1), \(r)")
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 320), .success)
        XCTAssertEqual(results.all, [0: "ok", 1: "ok"])

        // Through the SOCKS5 entry to each exit's echo: the link on loop 1 is reached through
        // the bridge. Lines round-trip, then our EOF brings the server's trailer and its EOF.
        for exit in exits {
            let host = Array("echo.\(exit.id.prefix(12)).stk".utf8)
            let c = try TCPConn.connect(port: socks)
            XCTAssertTrue(c.write([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, UInt8(host.count)] + host + [0x00, 0x07],
                                  deadline: Date().addingTimeInterval(10)))
            XCTAssertEqual(c.read(exactly: 12, timeout: 30), [0x05, 0x00, 0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0],
                           "method and success reply via loop \(loops[exit.id].map { "\($0 ?? -1)" } ?? "?")")
            for i in 0..<3 {
                let line = Array("line \(i) to \(exit.id.prefix(8))\n".utf8)
                XCTAssertTrue(c.write(line, deadline: Date().addingTimeInterval(10)))
                XCTAssertEqual(c.read(exactly: line.count, timeout: 15), line, "echo \(i) via loop \(loops[exit.id].map { "\($0 ?? -1)" } ?? "?")")
            }
            c.shutdownWrite()
            XCTAssertEqual(c.readToEnd(timeout: 15), trailer, "the trailer after our EOF, then the end")
        }

        // A session to a refused target fails with its SOCKS5 code on either loop.
        for exit in exits {
            let host = Array("nothing.\(exit.id.prefix(12)).stk".utf8)
            let c = try TCPConn.connect(port: socks)
            XCTAssertTrue(c.write([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, UInt8(host.count)] + host + [0x00, 0x07],
                                  deadline: Date().addingTimeInterval(10)))
            let answer = c.readToEnd(timeout: 30) ?? []
            XCTAssertEqual(Array(answer.prefix(4)), [0x05, 0x00, 0x05, 0x02], "not allowed (02) via loop \(loops[exit.id].map { "\($0 ?? -1)" } ?? "?")")
        }

        // Datagrams to each exit through its UDP forward and through SOCKS5 UDP ASSOCIATE.
        let udp = try LoopbackUDPSocket()
        defer { udp.close() }
        let association = try SOCKS5UDPClient(socksPort: socks)
        defer { association.close() }
        var strays: [(from: SOCKS5UDPClient.Address, payload: [UInt8])] = []
        for (i, exit) in exits.enumerated() {
            let via = "via loop \(loops[exit.id].map { "\($0 ?? -1)" } ?? "?")"
            for size in [1, 1400, 8192] {
                let sent = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
                assertSameBytes(udpExchange(udp, sent, port: udpForwards[i]), sent, "UDP forward, \(size) bytes \(via)")
                assertSameBytes(association.exchange(sent, with: .domain("uecho.\(exit.id.prefix(16)).stk", 7), others: &strays), sent,
                                "SOCKS5 UDP, \(size) bytes \(via)")
            }
        }
        XCTAssertTrue(strays.isEmpty, "replies named otherwise: \(strays.map(\.from))")

        // `stockade sessions` gathers every loop: nothing is left open, and A's listing works.
        let sessions = try a.control(["sessions", "--json"])
        XCTAssertEqual(sessions.status, 0, "\(sessions)")
        withExtendedLifetime(exits) {}
    }
}

/// Results of concurrent clients by index.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: String] = [:]
    func set(_ i: Int, _ r: String) { lock.withLock { results[i] = r } }
    var all: [Int: String] { lock.withLock { results } }
}
