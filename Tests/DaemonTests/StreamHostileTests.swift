import DevP2P
import Enode
import Foundation
import Mux
import PeerLink
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A raw `stk/1` peer against exit daemon B (issue 7 §6): every rule break gets the documented
/// answer (ipc/MUX.md, MuxErrorCode.swift), and after each one that is not fatal the link still
/// answers Ping and a fresh session still carries data. Fatal ones (a malformed frame, a message
/// id outside every capability) cost only that link: Disconnect(ProtocolError), the daemon serves on.
final class StreamHostileTests: XCTestCase {
    /// B's session limit for one peer (`[mux] max_sessions_per_peer`).
    static let maxSessions = 4

    struct Exit {
        let daemon: DaemonProcess
        let enode: EnodeURL
        let raw: NodeKeyOnDisk
        let closedPort: UInt16
        let echoPort: UInt16
    }

    /// B serves echo, sink and a closed port to the raw peer, names a service the raw peer may
    /// not open, and allows the raw peer 10.0.0.0/8 only among addresses.
    func startExit() throws -> Exit {
        let dir = try scratchDirectory(for: self)
        let raw = try NodeKeyOnDisk(in: dir)
        let echo = try LoopbackServer.echo(for: self, trailer: [])
        let sink = try LoopbackServer.sink(for: self)
        let closedPort = try freeLoopbackPort()
        let config = streamsConfig(key: nil, """
            [peers]
            penalties = false
            [mux]
            max_sessions_per_peer = \(Self.maxSessions)
            connect_timeout_ms = 10000
            [services]
            echo = "127.0.0.1:\(echo.port)"
            sink = "127.0.0.1:\(sink.port)"
            closed = "127.0.0.1:\(closedPort)"
            secret = "127.0.0.1:\(echo.port)"
            [[allow]]
            peers = ["\(raw.id)"]
            targets = ["echo", "sink", "closed", "10.0.0.0/8:*"]
            """)
        let daemon = try DaemonProcess.started(for: self, label: "exit B", config: config)
        return Exit(daemon: daemon, enode: try EnodeURL(parsing: daemon.enode()), raw: raw, closedPort: closedPort, echoPort: echo.port)
    }

    /// The link is alive and carries a new session: Ping answered, an echo session round-trips.
    func assertLinkServes(_ peer: MuxPeer, id: UInt16, after what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try peer.ping()
        let probe = Array("after \(what)".utf8)
        XCTAssertEqual(try peer.openEcho(id, .service("echo"), probe: probe), probe, "a fresh session after \(what)", file: file, line: line)
        try peer.send([.end(id)])
        XCTAssertNotNil(try peer.waitEnd(id, answer: false), "the fresh session after \(what) did not end cleanly", file: file, line: line)
    }

    func testEachRuleBreakGetsItsDocumentedAnswerAndTheLinkStaysUp() throws {
        let b = try startExit()
        let peer = try MuxPeer(dialing: b.enode, key: b.raw.identity.key)
        try assertLinkServes(peer, id: 1, after: "connecting")

        // A service B has but does not allow this peer, and an address no rule allows: 0x02.
        try peer.send([.new(3, target: .service("secret"))])
        XCTAssertEqual(try peer.waitEnd(3)?.errorCode, .notAllowed, "denied service")
        try peer.send([.new(5, target: MuxTarget(address: .ipv4([127, 0, 0, 1]), port: b.echoPort))])
        XCTAssertEqual(try peer.waitEnd(5)?.errorCode, .notAllowed, "denied address")
        XCTAssertTrue(b.daemon.waitForLog("denied: peer \(b.raw.shortID)…"), b.daemon.stderr)
        try assertLinkServes(peer, id: 7, after: "denied opens")

        // A Keep (with data) for a session that does not exist: End with Error 0x84.
        try peer.send([.keep(101, data: Array("stray".utf8))])
        let unknown = try peer.waitFrame { $0.sessionID == 101 }
        XCTAssertEqual(unknown?.status, .end)
        XCTAssertEqual(unknown?.errorCode, .unknownSession)
        try assertLinkServes(peer, id: 9, after: "a frame for an unknown session")

        // Data after the session's own Fin is a flow-control violation too (0x83); a KeepAlive
        // is only counted.
        let probe = Array("before fin".utf8)
        XCTAssertEqual(try peer.openEcho(101 + 2, .service("sink"), probe: []), [])
        try peer.send([.keep(103, data: probe, fin: true), .keep(103, data: Array("after fin".utf8))])
        XCTAssertEqual(try peer.waitEnd(103)?.errorCode, .flowControl, "data after Fin")
        try peer.send([MuxFrame(sessionID: 0, status: .keepAlive)])
        try assertLinkServes(peer, id: 105, after: "data after Fin and a KeepAlive")

        // A name the rules allow only by address (10.0.0.0/8) that is loopback: 0x02, whether
        // B canonicalises it (localhost) or resolves it (the host's own name, if it is loopback).
        try peer.send([.new(11, target: MuxTarget(address: .domain("localhost"), port: b.echoPort))])
        XCTAssertEqual(try peer.waitEnd(11)?.errorCode, .notAllowed, "localhost under a 10.0.0.0/8 rule")
        let host = ProcessInfo.processInfo.hostName
        let resolved = Self.resolve(host)
        if !resolved.isEmpty && resolved.allSatisfy({ $0.hasPrefix("127.") || $0 == "::1" }) {
            try peer.send([.new(13, target: MuxTarget(address: .domain(host), port: b.echoPort))])
            XCTAssertEqual(try peer.waitEnd(13)?.errorCode, .notAllowed, "\(host) resolves to \(resolved)")
        }
        try assertLinkServes(peer, id: 15, after: "a name resolving to a denied address")

        // A target that refuses the connection: 0x05.
        try peer.send([.new(17, target: .service("closed"))])
        XCTAssertEqual(try peer.waitEnd(17)?.errorCode, .connectionRefused, "closed port \(b.closedPort)")
        try assertLinkServes(peer, id: 19, after: "a refused connect")

        // More sessions than [mux] max_sessions_per_peer: the extra one gets 0x80; the others
        // go on, and once one ends another may open.
        var open: [UInt16] = []
        for i in 0..<Self.maxSessions {
            let id = UInt16(21 + 2 * i)
            let probe = Array("session \(id)".utf8)
            XCTAssertEqual(try peer.openEcho(id, .service("echo"), probe: probe), probe, "session \(i + 1) of \(Self.maxSessions)")
            open.append(id)
        }
        let extra = UInt16(21 + 2 * Self.maxSessions)
        try peer.send([.new(extra, target: .service("echo"), data: Array("one too many".utf8))])
        XCTAssertEqual(try peer.waitEnd(extra)?.errorCode, .tooManySessions, "session \(Self.maxSessions + 1)")
        try peer.ping()
        for id in open {
            try peer.send([.keep(id, data: Array("still \(id)".utf8))])
            XCTAssertEqual(try peer.readData(id, count: "still \(id)".utf8.count), Array("still \(id)".utf8))
        }
        for id in open { try peer.send([.end(id)]) }
        for id in open { XCTAssertNotNil(try peer.waitEnd(id, answer: false), "session \(id) did not end") }
        try assertLinkServes(peer, id: 41, after: "the session limit")

        // Data past the 256 KiB window, in one message so nothing of it can be consumed first:
        // that session gets 0x83; a session beside it on the same link carries on.
        let beside: UInt16 = 43, flooded: UInt16 = 45
        XCTAssertEqual(try peer.openEcho(beside, .service("echo"), probe: Array("beside".utf8)), Array("beside".utf8))
        try peer.send([.new(flooded, target: .service("sink"))])
        _ = try peer.waitFrame { $0.sessionID == flooded && $0.status == .keep }   // accepted
        let window = MuxLimits.initialWindow
        try peer.send(Self.dataFrames(flooded, count: window + 1))
        XCTAssertEqual(try peer.waitEnd(flooded)?.errorCode, .flowControl, "one byte past the window")
        try peer.send([.keep(beside, data: Array("after the flood".utf8))])
        XCTAssertEqual(try peer.readData(beside, count: 15), Array("after the flood".utf8), "the session beside it")
        try peer.send([.end(beside)])
        XCTAssertNotNil(try peer.waitEnd(beside, answer: false))
        try assertLinkServes(peer, id: 47, after: "a window violation")

        // Exactly the window is no violation: the whole of it reaches the target.
        try peer.send([.new(49, target: .service("echo"))])
        _ = try peer.waitFrame { $0.sessionID == 49 && $0.status == .keep }
        try peer.send(Self.dataFrames(49, count: window))
        XCTAssertNil(try peer.waitFrame(timeout: 2) { $0.sessionID == 49 && $0.status == .end }, "a full window is allowed")
        try peer.send([.end(49)])
        XCTAssertNotNil(try peer.waitEnd(49, answer: false))

        XCTAssertEqual(b.daemon.rolePids().count, TestConfig.childCount, "a child died")
        peer.link.disconnect(.requested)
    }

    /// A malformed frame and a message outside every capability each cost the link (Disconnect
    /// with ProtocolError), never the daemon: a new link is served right after.
    func testMalformedFramesAndUnknownMessagesDisconnectOnlyThatLink() throws {
        let b = try startExit()
        let cases: [(String, UInt64, [UInt8])] = [
            // Metadata length 2: less than session ID, status and option.
            ("metadata of 2 bytes", MuxPeer.framesID, [0x00, 0x02, 0x00, 0x01]),
            // A New without its target.
            ("a New cut short", MuxPeer.framesID, [0x00, 0x04, 0x00, 0x01, 0x01, 0x00]),
            // A window update that is not a multiple of 6 bytes.
            ("a 5-byte window update", MuxPeer.windowUpdateID, [0x00, 0x01, 0x00, 0x00, 0x01]),
            // A New with an even ID: the listener's (B's) to pick, not the dialer's.
            ("a New with the other side's ID parity", MuxPeer.framesID, MuxFrameCodec.encode([.new(2, target: .service("echo"))])),
            // A New on an ID that is open.
            ("a New on an open session", MuxPeer.framesID,
             MuxFrameCodec.encode([.new(3, target: .service("sink")), .new(3, target: .service("sink"))])),
            // Message id 0x30: the base protocol has 0x00-0x0f, stk/1 0x10-0x1f.
            ("message id 0x30", 0x30, [0xc0]),
        ]
        for (n, (name, id, payload)) in cases.enumerated() {
            let peer = try MuxPeer(dialing: b.enode, key: b.raw.identity.key)
            try assertLinkServes(peer, id: 1, after: "connecting (before \(name))")
            try peer.sendRaw(id: id, payload)
            XCTAssertEqual(peer.waitDisconnect(), .protocolError, name)
            // The drop is logged before the next dial, which would otherwise be "already connected".
            XCTAssertTrue(b.daemon.waitForLog("peer dropped: \(b.raw.shortID)…", times: n + 1), "\(name)\n\(b.daemon.stderr)")
        }
        let again = try MuxPeer(dialing: b.enode, key: b.raw.identity.key)
        try assertLinkServes(again, id: 1, after: "the protocol errors")
        XCTAssertEqual(b.daemon.rolePids().count, TestConfig.childCount, "a child died")
        again.link.disconnect(.requested)
    }

    /// Keep frames of session `id` carrying `count` pattern bytes (at most 65,535 a frame).
    static func dataFrames(_ id: UInt16, count: Int) -> [MuxFrame] {
        var pattern = PatternStream(seed: UInt64(id))
        return stride(from: 0, to: count, by: 65_535).map { MuxFrame.keep(id, data: pattern.next(min(65_535, count - $0))) }
    }

    /// getaddrinfo's addresses for `name`, as text.
    static func resolve(_ name: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var out: [String] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(n.pointee.ai_addr, n.pointee.ai_addrlen, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 {
                out.append(String(cString: host))
            }
            node = n.pointee.ai_next
        }
        return out
    }
}
