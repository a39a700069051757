import Foundation
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// UDP over the mux between two real daemons on 127.0.0.1 (issue 8): SOCKS5 UDP ASSOCIATE and
/// UDP forwards, a DNS query, per-datagram destinations checked by the exit's rules, and a flood
/// that must not grow memory or hold up the link's other sessions.
final class UDPTests: XCTestCase {
    /// Short enough that a test sees idle sessions end.
    static let idleMs = 1500

    static func allow(_ entryID: String, _ targets: [String]) -> String {
        "[[allow]]\npeers = [\"\(entryID)\"]\ntargets = [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
    }

    static var mux: String { "[mux]\nudp_idle_timeout_ms = \(idleMs)\n" }

    /// `count` bytes that differ per `seed`.
    static func payload(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ seed &* 13) }
    }

    func testEchoThroughUDPAssociateAndAForward() throws {
        let echo = try LoopbackUDPServer.echo()
        defer { echo.stop() }
        let forwardPort = try freeLoopbackUDPPort()
        let tunnel = try UDPTunnel(for: self, exitStreams: { entry in
            Self.mux + "[services]\necho = \"127.0.0.1:\(echo.port)\"\n" + Self.allow(entry, ["echo", "127.0.0.1:\(echo.port)"])
        }, entryStreams: { exit in
            Self.mux + UDPTunnel.forward(listen: forwardPort, peer: exit, target: "echo", udp: true)
        })
        defer { tunnel.stop() }
        XCTAssertTrue(tunnel.entry.waitForLog("UDP forward 127.0.0.1:\(forwardPort)"))

        // Through the forward: every size up to the largest datagram comes back whole.
        let client = try LoopbackUDPSocket()
        defer { client.close() }
        for (i, size) in [1, 100, 1400, 2048, 2049, 4096, 8191, 8192].enumerated() {
            let sent = Self.payload(size, seed: i)
            assertSameBytes(udpExchange(client, sent, port: forwardPort), sent, "forward, \(size) bytes")
        }
        // A datagram past 8 KiB is dropped at the entry and counted, never split.
        let dropsBefore = tunnel.metric(\.entryMetrics, "stockade_datagrams_dropped_total") ?? 0
        client.send(Self.payload(8193, seed: 9), to: forwardPort)
        XCTAssertNil(client.receive(timeout: 1)?.bytes.count, "an oversize datagram came back")
        XCTAssertNotNil(tunnel.metric(\.entryMetrics, "stockade_datagrams_dropped_total") { $0 >= dropsBefore + 1 },
                        "the oversize datagram was not counted")

        // Through SOCKS5 UDP ASSOCIATE: to the service by the exit's ID, then, on the same
        // session, to the echo's address through the default exit; replies are named as asked.
        let socks = try SOCKS5UDPClient(socksPort: tunnel.socksPort)
        var strays: [(from: SOCKS5UDPClient.Address, payload: [UInt8])] = []
        let service = SOCKS5UDPClient.Address.domain("echo.\(tunnel.exitID.prefix(16)).stk", 7)
        let direct = SOCKS5UDPClient.Address.loopback(echo.port)
        for (i, size) in [100, 2049, 4000, 8000, 8192].enumerated() {
            for (j, destination) in [service, direct].enumerated() {
                let sent = Self.payload(size, seed: 10 * i + j)
                assertSameBytes(socks.exchange(sent, with: destination, others: &strays), sent, "SOCKS5 to \(destination), round \(i)")
            }
        }
        XCTAssertTrue(strays.isEmpty, "replies named otherwise: \(strays.map(\.from))")
        XCTAssertEqual(tunnel.metric(\.exitMetrics, #"stockade_session_opens_total{result="accepted",reason=""}"#) { $0 >= 2 }, 2,
                       "one session for the forward's client, one for the association")

        // The association ends with its TCP connection; the forward's session when idle. Then
        // the forward opens a new session for the same client.
        socks.close()
        XCTAssertEqual(tunnel.metric(\.exitMetrics, "stockade_sessions_open", timeout: 15) { $0 == 0 }, 0, "sessions did not end")
        XCTAssertEqual(tunnel.metric(\.entryMetrics, "stockade_sessions_open", timeout: 5) { $0 == 0 }, 0, "sessions did not end at the entry")
        let again = Self.payload(64, seed: 99)
        assertSameBytes(udpExchange(client, again, port: forwardPort), again, "after the idle end")
    }

    func testDNSQueryIsAnsweredThroughTheTunnel() throws {
        let records = ["printer.stockade.test": [UInt8]([192, 0, 2, 17])]
        let resolver = try LoopbackUDPServer { TinyDNS.answer($0, records: records) }
        defer { resolver.stop() }
        let forwardPort = try freeLoopbackUDPPort()
        let tunnel = try UDPTunnel(for: self, exitStreams: { entry in
            "[services]\ndns = \"127.0.0.1:\(resolver.port)\"\n" + Self.allow(entry, ["dns"])
        }, entryStreams: { exit in
            UDPTunnel.forward(listen: forwardPort, peer: exit, target: "dns", udp: true)
        })
        defer { tunnel.stop() }
        XCTAssertTrue(tunnel.entry.waitForLog("UDP forward 127.0.0.1:\(forwardPort)"))

        // As a stub resolver pointed at the forward would ask.
        let client = try LoopbackUDPSocket()
        defer { client.close() }
        let reply = try XCTUnwrap(udpExchange(client, TinyDNS.query(id: 0x5151, name: "printer.stockade.test"), port: forwardPort))
        XCTAssertEqual(TinyDNS.parseAnswer(reply),
                       TinyDNS.Answer(id: 0x5151, rcode: 0, name: "printer.stockade.test", addresses: [[192, 0, 2, 17]]))
        let missing = try XCTUnwrap(udpExchange(client, TinyDNS.query(id: 0x5152, name: "nothing.stockade.test"), port: forwardPort))
        XCTAssertEqual(TinyDNS.parseAnswer(missing), TinyDNS.Answer(id: 0x5152, rcode: 3, name: "nothing.stockade.test", addresses: []),
                       "NXDOMAIN")

        // The same question through SOCKS5 UDP ASSOCIATE, to the service by name.
        let socks = try SOCKS5UDPClient(socksPort: tunnel.socksPort)
        defer { socks.close() }
        var strays: [(from: SOCKS5UDPClient.Address, payload: [UInt8])] = []
        let viaSocks = try XCTUnwrap(socks.exchange(TinyDNS.query(id: 7, name: "PRINTER.stockade.test"),
                                                    with: .domain("dns.\(tunnel.exitID.prefix(16)).stk", 53), others: &strays))
        XCTAssertEqual(TinyDNS.parseAnswer(viaSocks), TinyDNS.Answer(id: 7, rcode: 0, name: "PRINTER.stockade.test", addresses: [[192, 0, 2, 17]]))
        XCTAssertTrue(strays.isEmpty)
        XCTAssertGreaterThanOrEqual(resolver.received, 3)
    }

    /// Datagrams to a target that never answers still flow: the exit's accept is acknowledged
    /// without a reply datagram, so the session neither stalls nor times out.
    func testOneWayDatagramsReachATargetThatNeverAnswers() throws {
        let silent = try LoopbackUDPServer { _ in nil }
        defer { silent.stop() }
        let forwardPort = try freeLoopbackUDPPort()
        let tunnel = try UDPTunnel(for: self, exitStreams: { entry in Self.allow(entry, ["127.0.0.1:\(silent.port)"]) },
                                   entryStreams: { exit in UDPTunnel.forward(listen: forwardPort, peer: exit, target: "127.0.0.1:\(silent.port)", udp: true) })
        defer { tunnel.stop() }
        XCTAssertTrue(tunnel.entry.waitForLog("UDP forward 127.0.0.1:\(forwardPort)"))
        let client = try LoopbackUDPSocket()
        defer { client.close() }
        let count = 100
        for i in 0..<count {
            client.send(Self.payload(100, seed: i), to: forwardPort)
            usleep(5_000)
        }
        let end = Date().addingTimeInterval(10)
        while silent.received < count && Date() < end { usleep(20_000) }
        XCTAssertGreaterThanOrEqual(silent.received, count * 95 / 100, "one-way datagrams were held back")
        XCTAssertEqual(tunnel.metric(\.entryMetrics, "stockade_datagrams_dropped_total"), 0)
        XCTAssertEqual(tunnel.entry.count("timedOut"), 0)
    }

    /// One SOCKS5 association, one session to the default exit, three destinations: the two the
    /// exit allows answer, the third's datagrams are dropped, logged and counted.
    func testOneSessionToTwoAllowedDestinationsAndOneDenied() throws {
        let servers = try ["a", "b", "c"].map { try LoopbackUDPServer.echo(tag: Array("\($0):".utf8)) }
        defer { servers.forEach { $0.stop() } }
        let tunnel = try UDPTunnel(for: self, exitStreams: { entry in
            Self.allow(entry, ["127.0.0.1:\(servers[0].port)", "127.0.0.1:\(servers[1].port)"])
        }, entryStreams: { _ in "" })
        defer { tunnel.stop() }

        let socks = try SOCKS5UDPClient(socksPort: tunnel.socksPort)
        defer { socks.close() }
        var strays: [(from: SOCKS5UDPClient.Address, payload: [UInt8])] = []
        let (a, b, c) = (SOCKS5UDPClient.Address.loopback(servers[0].port), SOCKS5UDPClient.Address.loopback(servers[1].port),
                         SOCKS5UDPClient.Address.loopback(servers[2].port))
        for round in 0..<3 {
            let sent = Self.payload(300, seed: round)
            assertSameBytes(socks.exchange(sent, with: a, others: &strays), Array("a:".utf8) + sent, "a, round \(round)")
            assertSameBytes(socks.exchange(sent, with: b, others: &strays), Array("b:".utf8) + sent, "b, round \(round)")
            XCTAssertNil(socks.exchange(sent, with: c, tries: 1, timeout: 1, others: &strays)?.count, "the denied destination answered")
        }
        XCTAssertTrue(strays.isEmpty, "replies named otherwise: \(strays.map(\.from))")
        XCTAssertEqual(servers[2].received, 0, "a datagram reached the denied destination")

        // The exit logged the denied destination once (its verdict is kept) and counted every drop.
        let denied = "denied: peer \(tunnel.entryID.prefix(16))… UDP session"
        XCTAssertTrue(tunnel.exit.waitForLog(denied), "no denied line")
        XCTAssertTrue(tunnel.exit.stderr.split(separator: "\n").contains { $0.contains(denied) && $0.contains("to 127.0.0.1:\(servers[2].port)") })
        XCTAssertEqual(tunnel.exit.count(denied), 1)
        XCTAssertNotNil(tunnel.metric(\.exitMetrics, "stockade_datagrams_dropped_total") { $0 >= 3 }, "the denied datagrams were not counted")
        XCTAssertEqual(tunnel.metric(\.exitMetrics, #"stockade_session_opens_total{result="denied",reason=""}"#) { $0 >= 1 }, 1)
        // All of it on one session.
        XCTAssertEqual(tunnel.metric(\.exitMetrics, #"stockade_session_opens_total{result="accepted",reason=""}"#) { $0 >= 1 }, 1)
        XCTAssertEqual(tunnel.metric(\.entryMetrics, #"stockade_session_opens_total{result="started",reason=""}"#) { $0 >= 1 }, 1)
        XCTAssertEqual(tunnel.metric(\.exitMetrics, "stockade_sessions_open"), 1)
    }

    /// A session opened to an IPv4 destination may name an IPv6 one in later datagrams (SOCKS5
    /// UDP headers carry either): the exit's one socket serves both families, and each reply
    /// comes back named as it was sent to.
    func testOneSessionToAnIPv4AndAnIPv6Destination() throws {
        let v4 = try LoopbackUDPServer.echo(tag: Array("v4:".utf8))
        let v6 = try LoopbackUDPServer.echo(tag: Array("v6:".utf8), host: "::1")
        defer { v4.stop(); v6.stop() }
        let tunnel = try UDPTunnel(for: self, exitStreams: { entry in
            Self.allow(entry, ["127.0.0.1:\(v4.port)", "[::1]:\(v6.port)"])
        }, entryStreams: { _ in "" })
        defer { tunnel.stop() }

        let socks = try SOCKS5UDPClient(socksPort: tunnel.socksPort)
        defer { socks.close() }
        var strays: [(from: SOCKS5UDPClient.Address, payload: [UInt8])] = []
        let a = SOCKS5UDPClient.Address.loopback(v4.port)
        let b = SOCKS5UDPClient.Address.ipv6([UInt8](repeating: 0, count: 15) + [1], v6.port)
        for round in 0..<3 {
            let sent = Self.payload(200, seed: round)
            assertSameBytes(socks.exchange(sent, with: a, others: &strays), Array("v4:".utf8) + sent, "IPv4, round \(round)")
            assertSameBytes(socks.exchange(sent, with: b, others: &strays), Array("v6:".utf8) + sent, "IPv6, round \(round)")
        }
        XCTAssertTrue(strays.isEmpty, "replies named otherwise: \(strays.map(\.from))")
        XCTAssertEqual(tunnel.metric(\.exitMetrics, #"stockade_session_opens_total{result="accepted",reason=""}"#) { $0 >= 1 }, 1)
    }

    /// A flood into a target that never reads: both peer managers' memory stays bounded, the
    /// drops are counted, and a TCP session and another UDP session on the link keep working.
    func testFloodIntoATargetThatDoesNotRead() throws {
        let sink = try LoopbackUDPSocket(receiveBuffer: 4096)   // bound, never read
        defer { sink.close() }
        let echo = try LoopbackUDPServer.echo()
        defer { echo.stop() }
        let tcpEcho = try LoopbackTCPEcho()
        defer { tcpEcho.stop() }
        let (floodPort, echoPort, tcpPort) = (try freeLoopbackUDPPort(), try freeLoopbackUDPPort(), try freeLoopbackPort())
        let tunnel = try UDPTunnel(for: self, exitStreams: { entry in
            Self.allow(entry, ["127.0.0.1:\(sink.port)", "127.0.0.1:\(echo.port)", "127.0.0.1:\(tcpEcho.port)"])
        }, entryStreams: { exit in
            UDPTunnel.forward(listen: floodPort, peer: exit, target: "127.0.0.1:\(sink.port)", udp: true)
                + UDPTunnel.forward(listen: echoPort, peer: exit, target: "127.0.0.1:\(echo.port)", udp: true)
                + UDPTunnel.forward(listen: tcpPort, peer: exit, target: "127.0.0.1:\(tcpEcho.port)", udp: false)
        })
        defer { tunnel.stop() }
        XCTAssertTrue(tunnel.entry.waitForLog("forward 127.0.0.1:\(tcpPort)"))
        let entryPM = try XCTUnwrap(tunnel.entry.rolePids()["peer-manager"])
        let exitPM = try XCTUnwrap(tunnel.exit.rolePids()["peer-manager"])

        // Warm both paths up, then take the resident sizes to compare with.
        let probe = try LoopbackUDPSocket()
        defer { probe.close() }
        XCTAssertEqual(udpExchange(probe, [1, 2, 3], port: echoPort), [1, 2, 3])
        guard let tcpAddress = SocketAddress(ip: "127.0.0.1", port: tcpPort) else { throw DaemonTestError("bad address") }
        let tcp = try RawConnection(to: tcpAddress)
        defer { tcp.close() }
        try tcp.write([9, 9, 9])
        XCTAssertEqual(tcp.read(exactly: 3, timeout: 10), [9, 9, 9])
        let baseline = (entry: try XCTUnwrap(residentBytes(entryPM)), exit: try XCTUnwrap(residentBytes(exitPM)))

        let flood = UDPFlood(port: floodPort, size: 8 * 1024, seconds: 6)
        var peak = baseline
        var (tcpProbes, udpProbes, udpAnswered) = (0, 0, 0)
        var worstTCP: TimeInterval = 0
        for round in 0..<1_000 where flood.isRunning {
            let chunk = Self.payload(4096, seed: round)
            let started = Date()
            try tcp.write(chunk)
            assertSameBytes(tcp.read(exactly: chunk.count, timeout: 10), chunk, "TCP round \(round) during the flood")
            worstTCP = max(worstTCP, Date().timeIntervalSince(started))
            tcpProbes += 1
            let datagram = Self.payload(200, seed: round)
            udpProbes += 1
            if udpExchange(probe, datagram, port: echoPort, tries: 3, timeout: 1) == datagram { udpAnswered += 1 }
            peak.entry = max(peak.entry, residentBytes(entryPM) ?? 0)
            peak.exit = max(peak.exit, residentBytes(exitPM) ?? 0)
            usleep(100_000)
        }
        let sent = flood.stop()
        print("UDP flood: \(sent) datagrams of 8 KiB in 6 s; TCP probes \(tcpProbes), worst \(Int(worstTCP * 1000)) ms; UDP probes \(udpAnswered)/\(udpProbes); "
              + "RSS entry \(baseline.entry >> 20) → \(peak.entry >> 20) MiB, exit \(baseline.exit >> 20) → \(peak.exit >> 20) MiB")
        XCTAssertGreaterThan(sent, 10_000, "the flood hardly ran")
        XCTAssertGreaterThan(tcpProbes, 5)
        XCTAssertLessThan(worstTCP, 2, "the TCP session was held up")
        XCTAssertEqual(udpAnswered, udpProbes, "the other UDP session lost its echoes")
        // A session holds at most 64 KiB queued and a 256 KiB window; the bound leaves room for
        // the allocator and NIO's buffers, far below what the flood would take if queued.
        let bound = 32 << 20
        XCTAssertLessThan(peak.entry - baseline.entry, bound, "entry peer manager grew by \(peak.entry - baseline.entry) bytes")
        XCTAssertLessThan(peak.exit - baseline.exit, bound, "exit peer manager grew by \(peak.exit - baseline.exit) bytes")
        let dropped = tunnel.metric(\.entryMetrics, "stockade_datagrams_dropped_total") { $0 > 0 } ?? 0
        print("UDP flood: entry counted \(Int(dropped)) drops")
        XCTAssertGreaterThan(dropped, 0, "the entry counted no drops")
        XCTAssertEqual(tunnel.metric(\.entryMetrics, "stockade_mux_protocol_errors_total"), 0)
        // The flood really crossed the link (the exit sent it on to the sink, which dropped it).
        XCTAssertNotNil(tunnel.metric(\.exitMetrics, #"stockade_stream_bytes_total{direction="in"}"#) { $0 > Double(8 << 20) },
                        "the exit received less than 8 MiB of the flood")
        // Still one link, and the sessions still answer once the flood is over.
        XCTAssertEqual(tunnel.entry.count("peer dropped:"), 0)
        XCTAssertEqual(udpExchange(probe, [4, 5, 6], port: echoPort), [4, 5, 6])
        try tcp.write([7])
        XCTAssertEqual(tcp.read(exactly: 1, timeout: 10), [7])
    }
}

/// A thread sending datagrams to 127.0.0.1:`port` as fast as the kernel takes them, for at most
/// `seconds` and at most 20 million tries, until stopped.
final class UDPFlood: @unchecked Sendable {
    private let lock = NSLock()
    private var stopping = false
    private var running = true
    private var sent = 0
    private let finished = DispatchSemaphore(value: 0)

    init(port: UInt16, size: Int, seconds: TimeInterval) {
        Thread.detachNewThread { [self] in
            let end = Date().addingTimeInterval(seconds)
            let datagram = [UInt8](repeating: 0x5a, count: size)
            if let socket = try? LoopbackUDPSocket() {
                var count = 0
                for attempt in 0..<20_000_000 {
                    if attempt % 256 == 0, Date() >= end || lock.withLock({ stopping }) { break }
                    if socket.send(datagram, to: port) { count += 1 } else { usleep(50) }
                }
                lock.withLock { sent = count }
                socket.close()
            }
            lock.withLock { running = false }
            finished.signal()
        }
    }

    var isRunning: Bool { lock.withLock { running } }

    /// Stops the flood; how many datagrams it sent.
    func stop() -> Int {
        lock.withLock { stopping = true }
        _ = finished.wait(timeout: .now() + 10)
        return lock.withLock { sent }
    }
}
