import Enode
import Foundation
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Streams between real daemons on 127.0.0.1 (issue 7 §6): entry node A reaches services that
/// only exit node B may reach, through A's SOCKS5 entry and its forwards; B's allowlist lets A
/// in and keeps C out. Every check compares exact bytes or exact codes.
final class StreamTests: XCTestCase {
    /// Entry A and exit B, A's key, B's ID and the prefix that names B in `.stk` hosts.
    struct Pair {
        let a: DaemonProcess
        let b: DaemonProcess
        let aKey: NodeKeyOnDisk
        let bID: String
        var stkID: String { String(bID.prefix(12)) }

        /// Which daemon was told to stop while the test still ran (a signal from outside the
        /// test: this machine is shared), for failure messages.
        var stopsSoFar: String {
            [("A", a), ("B", b)].filter { $0.1.stderr.contains("stopping (") }.map { "\($0.0) logged \"stopping\"" }.joined(separator: ", ")
        }
    }

    /// Starts exit B with `services` allowed to A and entry A peered to it
    /// statically, with a forward to B's service for each of `forwards` (local port, service)
    /// and `aExtra` TOML; waits until both see the link.
    func startPair(services: [String: UInt16], forwards: [(port: UInt16, service: String)] = [], aExtra: String = "",
                   bArguments: [String] = []) throws -> Pair {
        let dir = try scratchDirectory(for: self)
        let aKey = try NodeKeyOnDisk(in: dir)
        let serviceLines = services.sorted { $0.key < $1.key }.map { "\($0.key) = \"127.0.0.1:\($0.value)\"" }
        let b = try DaemonProcess.started(for: self, label: "exit B", config: streamsConfig(key: nil, """
            [services]
            \(serviceLines.joined(separator: "\n"))
            [[allow]]
            peers = ["\(aKey.id)"]
            targets = [\(services.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", "))]
            """), arguments: bArguments)
        let bEnode = try b.enode()
        let bID = try EnodeURL(parsing: bEnode).nodeID.hex
        let forwardTables = forwards.map { "[[forward]]\nlisten = \"127.0.0.1:\($0.port)\"\npeer = \"\(bID)\"\ntarget = \"\($0.service)\"" }
        let a = try DaemonProcess.started(for: self, label: "entry A", config: streamsConfig(key: aKey, """
            [peers]
            static = ["\(bEnode)"]
            \(aExtra)
            \(forwardTables.joined(separator: "\n"))
            """))
        try a.waitForPeer(bID)
        try b.waitForPeer(aKey.id)
        return Pair(a: a, b: b, aKey: aKey, bID: bID)
    }

    // MARK: 1. SOCKS5 entry, allowlist

    func testSocksEntryReachesWhatOnlyTheAllowedPeerMayOpen() throws {
        let body = LoopbackServer.pattern(seed: 1, count: 3 << 20)
        let web = try LoopbackServer.http(for: self, body: body)
        let closedPort = try freeLoopbackPort()
        let socksA = try freeLoopbackPort(), socksC = try freeLoopbackPort(), metrics = try freeLoopbackPort()
        let pair = try startPair(services: ["web": web.port, "closed": closedPort],
                                 aExtra: "[socks5]\nlisten = \"127.0.0.1:\(socksA)\"",
                                 bArguments: ["--metrics", "127.0.0.1:\(metrics)"])
        let b = pair.b
        let events = try b.subscribeEvents(probe: TestIdentity())
        defer { events.stop() }

        // A: the body, byte for byte, by B's identity.
        let out = try scratchDirectory(for: self).appendingPathComponent("blob")
        let url = "http://web.\(pair.stkID).stk/blob"
        let fetched = try curl(["-sS", "--max-time", "90", "--socks5-hostname", "127.0.0.1:\(socksA)", "-o", out.path, url])
        XCTAssertEqual(fetched.status, 0, "\(fetched)")
        let got = try Data(contentsOf: out)
        XCTAssertEqual(got.count, body.count)
        XCTAssertTrue(got.elementsEqual(body), "the body differs from what the server sent")

        // A client that sends greeting, request and its first payload in one write: the payload
        // is not lost (it goes with the session once the exit accepts).
        let host = Array("web.\(pair.stkID).stk".utf8)
        let eager = try TCPConn.connect(port: socksA)
        let request = Array("GET /blob HTTP/1.0\r\n\r\n".utf8)
        XCTAssertTrue(eager.write([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, UInt8(host.count)] + host + [0x00, 0x50] + request,
                                  deadline: Date().addingTimeInterval(10)))
        let answer = try XCTUnwrap(eager.readToEnd(timeout: 90), "no answer and close")
        XCTAssertEqual(Array(answer.prefix(12)), [0x05, 0x00, 0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0], "method and success reply")
        XCTAssertTrue(String(decoding: answer.dropFirst(12).prefix(15), as: UTF8.self).hasPrefix("HTTP/1.1 200 OK"))
        XCTAssertTrue(answer.count > body.count && Array(answer.suffix(body.count)) == body, "the body through an eager client")

        // A target B allows but that refuses: SOCKS5 reply 05, "connection refused".
        let refused = try curl(["-sS", "--max-time", "30", "--socks5-hostname", "127.0.0.1:\(socksA)", "http://closed.\(pair.stkID).stk/"])
        XCTAssertEqual(refused.status, 97, "curl's CURLE_PROXY: \(refused)")
        XCTAssertTrue(refused.stderr.contains("Can't complete SOCKS5 connection to closed.\(pair.stkID).stk. (5)"), "\(refused)")

        // C, peered with B but not allowed: SOCKS5 reply 02, a log line, an event, a metric.
        let cKey = try NodeKeyOnDisk(in: try scratchDirectory(for: self))
        let c = try DaemonProcess.started(for: self, label: "entry C", config: streamsConfig(key: cKey, """
            [peers]
            static = ["\(try b.enode())"]
            [socks5]
            listen = "127.0.0.1:\(socksC)"
            """))
        try c.waitForPeer(pair.bID)
        let denied = try curl(["-sS", "--max-time", "30", "--socks5-hostname", "127.0.0.1:\(socksC)", url])
        XCTAssertEqual(denied.status, 97, "curl's CURLE_PROXY: \(denied)")
        XCTAssertTrue(denied.stderr.contains("Can't complete SOCKS5 connection to web.\(pair.stkID).stk. (2)"), "\(denied)")
        XCTAssertTrue(b.waitForLog("denied: peer \(cKey.shortID)…"), b.stderr)
        XCTAssertFalse(b.stderr.contains("denied: peer \(pair.aKey.shortID)…"), "A was denied:\n\(b.stderr)")
        XCTAssertTrue(events.waitFor(15) { out, _ in
            ControlCommandTests.events(out, id: cKey.id).contains { $0["event"] as? String == "session-denied" }
        }, "no session-denied event for C:\n\(events.stdout)")
        let event = ControlCommandTests.events(events.stdout, id: cKey.id).first { $0["event"] as? String == "session-denied" }
        XCTAssertTrue((event?["detail"] as? String)?.contains("web") == true, "\(String(describing: event))")
        XCTAssertTrue(ControlCommandTests.events(events.stdout, id: pair.aKey.id).allSatisfy { $0["event"] as? String != "session-denied" },
                      events.stdout)

        // B's metrics count the denial (once: C asked once) beside A's accepted opens.
        var text = ""
        let counted = (0..<50).contains { _ in
            text = (try? ControlMetricsTests.scrape(port: metrics, path: "/metrics"))?.body ?? ""
            if ControlMetricsTests.samples(text)[#"stockade_session_opens_total{result="denied",reason=""}"#] == 1 { return true }
            usleep(200_000)
            return false
        }
        XCTAssertTrue(counted, "metrics never counted the denied open:\n\(text)")
        XCTAssertEqual(ControlMetricsTests.expositionProblems(text), [], text)
        XCTAssertGreaterThanOrEqual(ControlMetricsTests.samples(text)[#"stockade_session_opens_total{result="accepted",reason=""}"#] ?? 0, 1, text)
        // The open to the closed port failed at B with its reason.
        XCTAssertGreaterThanOrEqual(
            ControlMetricsTests.samples(text)[#"stockade_session_opens_total{result="failed",reason="connection_refused"}"#] ?? 0, 1, text)
    }

    // MARK: 2. 100 MiB through a forward

    func testHundredMebibytesThroughAForwardArriveByteForByte() throws {
        let size = 100 << 20
        let source = try LoopbackServer.source(for: self, seed: 2, count: size)
        let forward = try freeLoopbackPort()
        let pair = try startPair(services: ["bulk": source.port], forwards: [(forward, "bulk")])
        let client = try TCPConn.connect(port: forward)
        var checker = PatternChecker(seed: 2)
        let started = Date()
        let result = client.drain(into: &checker, count: size, deadline: started.addingTimeInterval(400))
        let seconds = Date().timeIntervalSince(started)
        XCTAssertEqual(result, .bytes([]), "stopped after \(checker.count) of \(size) bytes \(pair.stopsSoFar)")
        XCTAssertEqual(checker.count, size)
        XCTAssertNil(checker.firstMismatch, "first differing byte at offset \(checker.firstMismatch ?? -1)")
        XCTAssertEqual(client.read(deadline: Date().addingTimeInterval(30)), .end, "the target's close did not reach the client")
        print("100 MiB through the forward in \(String(format: "%.1f", seconds)) s (\(String(format: "%.0f", Double(size) / seconds / 1e6)) MB/s)")
        withExtendedLifetime(pair) {}
    }

    // MARK: 3. echo and half-close

    func testEchoAndHalfCloseThroughAForward() throws {
        let trailer = Array("\n-- end of echo --\n".utf8)
        let echo = try LoopbackServer.echo(for: self, trailer: trailer)
        let banner = Array("banner, then my EOF\n".utf8)
        let received = Received()
        let bannerFirst = try LoopbackServer.bannerFirst(for: self, banner: banner, received: received)
        let forward = try freeLoopbackPort(), reverse = try freeLoopbackPort()
        let pair = try startPair(services: ["echo": echo.port, "banner": bannerFirst.port], forwards: [(forward, "echo"), (reverse, "banner")])

        // Interactive: each line comes back before the next is sent.
        let chat = try TCPConn.connect(port: forward)
        for i in 0..<5 {
            let line = Array("line \(i)\n".utf8)
            XCTAssertTrue(chat.write(line, deadline: Date().addingTimeInterval(10)))
            XCTAssertEqual(chat.read(exactly: line.count, timeout: 15), line, "round trip \(i)")
        }
        chat.shutdownWrite()
        XCTAssertEqual(chat.readToEnd(timeout: 15), trailer)

        // Half-close: 2 MiB sent, then the write side shut; the whole echo and the trailer the
        // server sends only after our EOF still arrive, then the end of stream.
        let size = 2 << 20
        let client = try TCPConn.connect(port: forward)
        let data = LoopbackServer.pattern(seed: 3, count: size)
        var checker = PatternChecker(seed: 3)
        var sent = 0
        var tail: [UInt8] = []
        let deadline = Date().addingTimeInterval(120)
        var ended = false
        // Writes only what the socket takes and reads between writes, so neither direction's
        // buffers can deadlock the two.
        while !ended && Date() < deadline {
            if sent < size {
                guard let n = try? TCPSocket.writeSome(client.fd, data[sent..<min(size, sent + 64 * 1024)]) else {
                    XCTFail("write failed at \(sent) \(pair.stopsSoFar)")
                    break
                }
                sent += n
                if sent == size { client.shutdownWrite() }
            }
            switch client.read(deadline: sent < size ? Date().addingTimeInterval(0.02) : deadline) {
            case .bytes(let b):
                let echoed = min(b.count, max(0, size - checker.count))
                checker.feed(Array(b[..<echoed]))
                tail += b[echoed...]
            case .end: ended = true
            case .failed: XCTFail("reset after \(checker.count) echoed bytes \(pair.stopsSoFar)"); ended = true
            case .timeout: break
            }
        }
        XCTAssertTrue(ended, "no end of stream after \(checker.count) echoed bytes \(pair.stopsSoFar)")
        XCTAssertEqual(checker.count, size)
        XCTAssertNil(checker.firstMismatch, "echo differs at offset \(checker.firstMismatch ?? -1)")
        XCTAssertEqual(tail, trailer, "what the server sent after our EOF")

        // The other way round: the server ends its direction first; the client reads the
        // banner and the EOF, then still sends 100 KiB and closes. The server gets all of it
        // and an orderly end of stream, not a reset.
        let late = LoopbackServer.pattern(seed: 9, count: 100 << 10)
        let client2 = try TCPConn.connect(port: reverse)
        XCTAssertEqual(client2.readToEnd(timeout: 15), banner, "the banner, then the server's EOF")
        XCTAssertTrue(client2.write(late, deadline: Date().addingTimeInterval(30)))
        client2.close()
        let endDeadline = Date().addingTimeInterval(30)
        while received.ending == nil && Date() < endDeadline { usleep(20_000) }
        XCTAssertEqual(received.ending, .end, "how the server's input ended")
        XCTAssertEqual(received.bytes.count, late.count)
        XCTAssertTrue(received.bytes == late, "the bytes sent after the server's EOF differ")
        withExtendedLifetime(pair) {}
    }

    // MARK: 4. head-of-line

    func testAStalledReaderStopsOnlyItsOwnSession() throws {
        let stalledSize = 64 << 20, smallSize = 1 << 20, sessions = 20
        let progress = ByteCounter()
        let bulk = try LoopbackServer.source(for: self, seed: 4, count: stalledSize, progress: progress)
        let small = try LoopbackServer.source(for: self, seed: 5, count: smallSize)
        let bulkForward = try freeLoopbackPort(), smallForward = try freeLoopbackPort()
        let pair = try startPair(services: ["bulk": bulk.port, "small": small.port], forwards: [(bulkForward, "bulk"), (smallForward, "small")])

        // The stalled session: reads 64 KiB, then stops while the source keeps sending, until
        // every buffer and window on the way is full and the source is blocked.
        let stalled = try TCPConn.connect(port: bulkForward)
        var stalledChecker = PatternChecker(seed: 4)
        XCTAssertEqual(stalled.drain(into: &stalledChecker, count: 64 << 10, deadline: Date().addingTimeInterval(30)), .bytes([]))
        var last = -1, steadySince = Date()
        let stallDeadline = Date().addingTimeInterval(90)
        while Date() < stallDeadline && Date().timeIntervalSince(steadySince) < 3 {
            let now = progress.value
            if now != last { last = now; steadySince = Date() }
            usleep(200_000)
        }
        XCTAssertLessThan(progress.value, stalledSize, "the source was never held back: the stall did not happen")

        // Twenty sessions beside it open, move 1 MiB each and close, within a generous bound.
        let results = SessionResults()
        let started = Date()
        for i in 0..<sessions {
            Thread.detachNewThread {
                do {
                    let conn = try TCPConn.connect(port: smallForward)
                    var checker = PatternChecker(seed: 5)
                    let r = conn.drain(into: &checker, count: smallSize, deadline: started.addingTimeInterval(60))
                    let end = conn.read(deadline: started.addingTimeInterval(60))
                    results.record(i, r == .bytes([]) && checker.count == smallSize && checker.firstMismatch == nil && end == .end
                        ? nil : "got \(checker.count) bytes, mismatch at \(checker.firstMismatch ?? -1), then \(end)")
                } catch {
                    results.record(i, "\(error)")
                }
            }
        }
        XCTAssertTrue(results.wait(count: sessions, timeout: 90), "only \(results.count) of \(sessions) sessions finished")
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(results.failures, [:], "sessions beside the stalled one")
        XCTAssertLessThan(elapsed, 60, "the sessions beside the stalled one took \(elapsed) s")
        print("\(sessions) × 1 MiB beside a stalled session: \(String(format: "%.2f", elapsed)) s")

        // The stalled reader resumes and gets every byte, in order, then the end of stream.
        let r = stalled.drain(into: &stalledChecker, count: stalledSize - stalledChecker.count, deadline: Date().addingTimeInterval(300))
        XCTAssertEqual(r, .bytes([]), "resumed reader stopped at \(stalledChecker.count) \(pair.stopsSoFar)")
        XCTAssertEqual(stalledChecker.count, stalledSize)
        XCTAssertNil(stalledChecker.firstMismatch, "resumed reader: first differing byte at \(stalledChecker.firstMismatch ?? -1)")
        XCTAssertEqual(stalled.read(deadline: Date().addingTimeInterval(30)), .end)
        withExtendedLifetime(pair) {}
    }

    // MARK: 5. operator commands

    func testSessionsListAndRunTimeForwards() throws {
        let echo = try LoopbackServer.echo(for: self, trailer: [])
        let forward = try freeLoopbackPort()
        let pair = try startPair(services: ["echo": echo.port], forwards: [(forward, "echo")])
        let a = pair.a, b = pair.b

        // A live session with 1000 bytes each way: both ends list it with its target and bytes.
        let held = try TCPConn.connect(port: forward)
        let payload = LoopbackServer.pattern(seed: 6, count: 1000)
        XCTAssertTrue(held.write(payload, deadline: Date().addingTimeInterval(10)))
        XCTAssertEqual(held.read(exactly: payload.count, timeout: 15), payload)
        let entry = try Self.sessions(a).first { $0["peer"] as? String == pair.bID }
        XCTAssertEqual(entry?["target"] as? String, "service echo", "\(String(describing: entry))")
        XCTAssertEqual(entry?["direction"] as? String, "outbound")
        XCTAssertEqual(entry?["bytes_out"] as? Int, 1000, "\(String(describing: entry))")
        XCTAssertEqual(entry?["bytes_in"] as? Int, 1000, "\(String(describing: entry))")
        XCTAssertTrue((entry?["local"] as? String)?.contains("forward 127.0.0.1:\(forward)") == true, "\(String(describing: entry))")
        let exit = try Self.sessions(b).first { $0["peer"] as? String == pair.aKey.id }
        XCTAssertEqual(exit?["target"] as? String, "service echo", "\(String(describing: exit))")
        XCTAssertEqual(exit?["direction"] as? String, "inbound")
        XCTAssertEqual(exit?["bytes_in"] as? Int, 1000, "\(String(describing: exit))")
        XCTAssertEqual(exit?["bytes_out"] as? Int, 1000, "\(String(describing: exit))")
        XCTAssertEqual(entry?["session"] as? Int, exit?["session"] as? Int, "one session, one ID on both ends")

        // Once closed, it is gone from both lists; so are sessions whose clients leave at once
        // (before or just after the exit's answer) or reset.
        held.close()
        for i in 0..<10 {
            let quick = try TCPConn.connect(port: forward)
            if i % 2 == 1 {
                var l = linger(l_onoff: 1, l_linger: 0)
                setsockopt(quick.fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
            }
            quick.close()
        }
        for (name, daemon) in [("A", a), ("B", b)] {
            var left: [[String: Any]] = []
            for _ in 0..<75 {
                left = try Self.sessions(daemon)
                if left.isEmpty { break }
                usleep(200_000)
            }
            XCTAssertEqual(left.count, 0, "\(name) still lists closed sessions: \(left)")
        }

        // forward add / list / remove at run time, the peer named by a 12-digit prefix.
        let extra = try freeLoopbackPort()
        let added = try a.control(["forward", "add", "127.0.0.1:\(extra)", String(pair.bID.prefix(12)), "echo"])
        XCTAssertEqual(added.status, 0, "\(added)")
        XCTAssertTrue(added.stdout.contains("forwarding 127.0.0.1:\(extra) to echo on \(pair.bID.prefix(16))…"), "\(added)")
        let listed = try a.control(["forward", "list"])
        let rows = listed.stdout.split(separator: "\n")
        XCTAssertTrue(rows.contains { $0.contains("127.0.0.1:\(extra)") && $0.contains("run time") && $0.contains("echo") }, "\(listed)")
        XCTAssertTrue(rows.contains { $0.contains("127.0.0.1:\(forward)") && $0.contains("config") }, "\(listed)")
        let viaRuntime = try TCPConn.connect(port: extra)
        XCTAssertTrue(viaRuntime.write(Array("run time\n".utf8), deadline: Date().addingTimeInterval(10)))
        XCTAssertEqual(viaRuntime.read(exactly: 9, timeout: 15), Array("run time\n".utf8))
        let twice = try a.control(["forward", "add", "127.0.0.1:\(extra)", pair.bID, "echo"])
        XCTAssertNotEqual(twice.status, 0, "\(twice)")

        let removed = try a.control(["forward", "remove", "127.0.0.1:\(extra)"])
        XCTAssertEqual(removed.status, 0, "\(removed)")
        XCTAssertFalse(try a.control(["forward", "list"]).stdout.contains("127.0.0.1:\(extra)"))
        var refused = false
        for _ in 0..<50 where !refused {
            if (try? TCPConn.connect(port: extra, timeout: 2)) == nil { refused = true } else { usleep(100_000) }
        }
        XCTAssertTrue(refused, "the removed forward still accepts connections")
        // Its open session goes on (README: "open sessions go on").
        XCTAssertTrue(viaRuntime.write(Array("still\n".utf8), deadline: Date().addingTimeInterval(10)))
        XCTAssertEqual(viaRuntime.read(exactly: 6, timeout: 15), Array("still\n".utf8))
        let again = try a.control(["forward", "remove", "127.0.0.1:\(extra)"])
        XCTAssertNotEqual(again.status, 0, "removing a forward that is gone: \(again)")
    }

    static func sessions(_ daemon: DaemonProcess) throws -> [[String: Any]] {
        let r = try daemon.control(["sessions", "--json"])
        guard r.status == 0, let list = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] else {
            throw DaemonTestError("stockade sessions --json: \(r)")
        }
        return list
    }

    // MARK: 6. malformed SOCKS5

    func testMalformedSocksRequestsGetTheirReplyAndAClose() throws {
        let socks = try freeLoopbackPort()
        let a = try DaemonProcess.started(for: self, label: "socks", config: streamsConfig(key: nil, "[socks5]\nlisten = \"127.0.0.1:\(socks)\""))
        XCTAssertTrue(a.waitForLog("SOCKS5 entry on 127.0.0.1:\(socks)"), a.stderr)
        let greeting: [UInt8] = [0x05, 0x01, 0x00], accepted: [UInt8] = [0x05, 0x00]
        let unknownPeer = Array("web.0123456789ab.stk".utf8)
        func reply(_ code: UInt8) -> [UInt8] { [0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0] }
        let cases: [(String, [UInt8], [UInt8])] = [
            ("BIND", greeting + [0x05, 0x02, 0x00, 0x01, 127, 0, 0, 1, 0x00, 0x50], accepted + reply(0x07)),
            ("a SOCKS4 greeting", [0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0x00], []),
            ("a request of version 4", greeting + [0x04, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x00, 0x50], accepted + reply(0x01)),
            ("a zero-length domain", greeting + [0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x50], accepted + reply(0x01)),
            ("a NUL in the domain", greeting + [0x05, 0x01, 0x00, 0x03, 0x03, 0x61, 0x00, 0x62, 0x00, 0x50], accepted + reply(0x01)),
            ("address type 0x05", greeting + [0x05, 0x01, 0x00, 0x05, 0x00, 0x50], accepted + reply(0x08)),
            ("only username/password offered", [0x05, 0x01, 0x02], [0x05, 0xff]),
            ("a .stk name of no known peer", greeting + [0x05, 0x01, 0x00, 0x03, UInt8(unknownPeer.count)] + unknownPeer + [0x00, 0x50],
             accepted + reply(0x04)),
            ("a plain IP with no default exit", greeting + [0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x00, 0x50], accepted + reply(0x02)),
        ]
        for (name, request, expected) in cases {
            let client = try TCPConn.connect(port: socks)
            XCTAssertTrue(client.write(request, deadline: Date().addingTimeInterval(10)), name)
            // The whole answer, then the server's close at once: no waiting for the entry's
            // 10 s request deadline.
            let started = Date()
            let answer = client.readToEnd(timeout: 8)
            XCTAssertEqual(answer, expected, "\(name): answer, then close")
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, "\(name): the close took too long")
        }
        XCTAssertEqual(a.rolePids().count, TestConfig.childCount, "a child died")
    }
}

/// The outcome of each of several sessions run on threads: nil for success, else why not.
final class SessionResults: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [Int: String?] = [:]

    func record(_ i: Int, _ failure: String?) { lock.withLock { outcomes[i] = failure } }
    var count: Int { lock.withLock { outcomes.count } }
    var failures: [Int: String] { lock.withLock { outcomes.compactMapValues { $0 } } }

    func wait(count: Int, timeout: TimeInterval) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while self.count < count && Date() < end { usleep(50_000) }
        return self.count >= count
    }
}
