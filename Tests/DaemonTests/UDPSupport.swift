import Enode
import Foundation
import Secp256k1
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

// Support for the UDP end-to-end tests (UDPTests.swift): UDP sockets and servers on 127.0.0.1,
// a SOCKS5 UDP ASSOCIATE client, a tiny DNS resolver and client, a TCP echo server, and a pair
// of daemons joined as entry and exit. Every wait is bounded.

/// A non-blocking UDP socket on 127.0.0.1, or on `host` (::1), an ephemeral port unless `port`
/// is given; it sends to ports on the same host.
final class LoopbackUDPSocket: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    let host: String
    private let lock = NSLock()
    private var closed = false

    init(port: UInt16 = 0, receiveBuffer: Int32? = nil, host: String = "127.0.0.1") throws {
        self.host = host
        guard let any = SocketAddress(ip: host, port: port) else { throw DaemonTestError("bad address") }
        fd = try TCPSocket.bindUDP(on: any)
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        guard let bound = SocketAddress.local(of: fd) else {
            Glibc.close(fd)
            throw DaemonTestError("getsockname failed")
        }
        self.port = bound.port
    }

    /// Sends one datagram to `host`:`port`; false if the kernel did not take it whole.
    @discardableResult
    func send(_ bytes: [UInt8], to port: UInt16) -> Bool {
        guard let to = SocketAddress(ip: host, port: port) else { return false }
        let n = to.withSockaddr { address, length in
            bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, length) }
        }
        return n == bytes.count
    }

    /// The next datagram and its source port, or nil once `timeout` passed.
    func receive(timeout: TimeInterval) -> (bytes: [UInt8], port: UInt16)? {
        let end = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        for _ in 0..<10_000 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buffer.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &length) }
                }
            }
            if n >= 0 { return (Array(buffer[..<n]), SocketAddress(storage: storage)?.port ?? 0) }
            let left = Int32(end.timeIntervalSinceNow * 1000)
            guard errno == EAGAIN || errno == EINTR, left > 0, TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: left) else {
                return nil
            }
        }
        return nil
    }

    func close() {
        lock.withLock {
            guard !closed else { return }
            closed = true
            Glibc.close(fd)
        }
    }

    deinit { close() }
}

/// A UDP port on 127.0.0.1 that was free a moment ago (for a forward's listen address).
func freeLoopbackUDPPort() throws -> UInt16 {
    let probe = try LoopbackUDPSocket()
    defer { probe.close() }
    return probe.port
}

/// A UDP server on 127.0.0.1, served by a thread of the test: `answer` turns each datagram into
/// the reply (nil: no reply). Counts what it received.
final class LoopbackUDPServer: @unchecked Sendable {
    let port: UInt16
    private let socket: LoopbackUDPSocket
    private let lock = NSLock()
    private var stopping = false
    private var count = 0
    private let finished = DispatchSemaphore(value: 0)

    init(host: String = "127.0.0.1", answer: @escaping @Sendable ([UInt8]) -> [UInt8]?) throws {
        socket = try LoopbackUDPSocket(host: host)
        port = socket.port
        Thread.detachNewThread { [self] in
            // Bounded by `stop` (and by the test's own time limit): each wait is 100 ms.
            while !lock.withLock({ stopping }) {
                guard let (bytes, from) = socket.receive(timeout: 0.1) else { continue }
                lock.withLock { count += 1 }
                if let reply = answer(bytes) { socket.send(reply, to: from) }
            }
            finished.signal()
        }
    }

    /// An echo server whose replies start with `tag`, so a test can tell its servers apart.
    static func echo(tag: [UInt8] = [], host: String = "127.0.0.1") throws -> LoopbackUDPServer {
        try LoopbackUDPServer(host: host) { tag + $0 }
    }

    var received: Int { lock.withLock { count } }

    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        _ = finished.wait(timeout: .now() + 5)
        socket.close()
    }

    deinit { stop() }
}

/// A TCP echo server on 127.0.0.1: a thread accepts, a thread per connection echoes.
final class LoopbackTCPEcho: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init() throws {
        guard let any = SocketAddress(ip: "127.0.0.1", port: 0) else { throw DaemonTestError("bad address") }
        fd = try TCPSocket.listen(on: any)
        guard let bound = SocketAddress.local(of: fd) else { throw DaemonTestError("getsockname failed") }
        port = bound.port
        Thread.detachNewThread { [self] in
            while !isStopping {
                guard TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: 100) else { continue }
                let conn = accept(fd, nil, nil)
                guard conn >= 0 else { continue }
                TCPSocket.setNonBlocking(conn)
                Thread.detachNewThread { [self] in serve(conn) }
            }
            Glibc.close(fd)
            finished.signal()
        }
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func serve(_ conn: Int32) {
        defer { Glibc.close(conn) }
        while !isStopping {
            guard TCPSocket.waitFor(conn, events: Int16(POLLIN), timeoutMilliseconds: 100) else { continue }
            guard let bytes = try? TCPSocket.readAvailable(conn, max: 64 * 1024) else { continue }
            if bytes.isEmpty { return }
            var offset = 0
            for _ in 0..<1_000 where offset < bytes.count && !isStopping {
                guard let n = try? TCPSocket.writeSome(conn, bytes[offset...]) else { return }
                offset += n
                if n == 0 { _ = TCPSocket.waitFor(conn, events: Int16(POLLOUT), timeoutMilliseconds: 100) }
            }
        }
    }

    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        if first { _ = finished.wait(timeout: .now() + 5) }
    }

    deinit { stop() }
}

// MARK: SOCKS5 UDP ASSOCIATE

/// A SOCKS5 client's UDP association (RFC 1928 section 7): the TCP control connection that
/// holds it open, and a UDP socket that talks to the relay the server named.
final class SOCKS5UDPClient {
    /// A datagram's address in the SOCKS5 UDP header.
    enum Address: Equatable, CustomStringConvertible {
        case ipv4([UInt8], UInt16)
        case ipv6([UInt8], UInt16)
        case domain(String, UInt16)

        static func loopback(_ port: UInt16) -> Address { .ipv4([127, 0, 0, 1], port) }

        var encoded: [UInt8] {
            switch self {
            case .ipv4(let ip, let port): return [0x01] + ip + [UInt8(port >> 8), UInt8(truncatingIfNeeded: port)]
            case .ipv6(let ip, let port): return [0x04] + ip + [UInt8(port >> 8), UInt8(truncatingIfNeeded: port)]
            case .domain(let name, let port):
                return [0x03, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(port >> 8), UInt8(truncatingIfNeeded: port)]
            }
        }

        var description: String {
            switch self {
            case .ipv4(let ip, let port): return ip.map(String.init).joined(separator: ".") + ":\(port)"
            case .ipv6(let ip, let port): return "[\(ip.map { String($0, radix: 16) }.joined(separator: ","))]:\(port)"
            case .domain(let name, let port): return "\(name):\(port)"
            }
        }
    }

    let control: RawConnection
    let socket: LoopbackUDPSocket
    let relayPort: UInt16

    /// Greets the SOCKS5 server on 127.0.0.1:`socksPort` (no authentication) and asks for UDP
    /// ASSOCIATE from an unknown address (0.0.0.0:0, as most clients do).
    init(socksPort: UInt16) throws {
        guard let server = SocketAddress(ip: "127.0.0.1", port: socksPort) else { throw DaemonTestError("bad address") }
        control = try RawConnection(to: server)
        try control.write([0x05, 0x01, 0x00])
        guard control.read(exactly: 2, timeout: 10) == [0x05, 0x00] else { throw DaemonTestError("SOCKS5 greeting refused") }
        try control.write([0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0])
        guard let head = control.read(exactly: 4, timeout: 15) else { throw DaemonTestError("no UDP ASSOCIATE reply") }
        guard head[0] == 0x05, head[1] == 0x00 else { throw DaemonTestError("UDP ASSOCIATE refused: reply \(head[1])") }
        guard head[3] == 0x01, let bound = control.read(exactly: 6, timeout: 5) else {
            throw DaemonTestError("relay address of type \(head[3]), not IPv4")
        }
        guard Array(bound[0..<4]) == [127, 0, 0, 1] else { throw DaemonTestError("relay on \(bound[0..<4]), not 127.0.0.1") }
        relayPort = UInt16(bound[4]) << 8 | UInt16(bound[5])
        socket = try LoopbackUDPSocket()
    }

    /// One datagram to `destination` through the relay (fragment 0).
    @discardableResult
    func send(_ payload: [UInt8], to destination: Address) -> Bool {
        socket.send([0, 0, 0] + destination.encoded + payload, to: relayPort)
    }

    /// The next datagram from the relay: the address it came from and its payload.
    func receive(timeout: TimeInterval) -> (from: Address, payload: [UInt8])? {
        guard let (d, port) = socket.receive(timeout: timeout), port == relayPort else { return nil }
        return Self.parse(d)
    }

    static func parse(_ d: [UInt8]) -> (from: Address, payload: [UInt8])? {
        guard d.count >= 4, d[0] == 0, d[1] == 0, d[2] == 0 else { return nil }
        switch d[3] {
        case 0x01:
            guard d.count >= 10 else { return nil }
            return (.ipv4(Array(d[4..<8]), UInt16(d[8]) << 8 | UInt16(d[9])), Array(d[10...]))
        case 0x04:
            guard d.count >= 22 else { return nil }
            return (.ipv6(Array(d[4..<20]), UInt16(d[20]) << 8 | UInt16(d[21])), Array(d[22...]))
        case 0x03:
            guard d.count >= 5 else { return nil }
            let n = Int(d[4])
            guard d.count >= 5 + n + 2 else { return nil }
            let name = String(decoding: d[5..<5 + n], as: UTF8.self)
            return (.domain(name, UInt16(d[5 + n]) << 8 | UInt16(d[6 + n])), Array(d[(7 + n)...]))
        default:
            return nil
        }
    }

    /// Sends `payload` to `destination` until a reply comes (at most `tries` times, `timeout`
    /// each: UDP may lose one); replies from elsewhere are kept in `others`.
    func exchange(_ payload: [UInt8], with destination: Address, tries: Int = 3, timeout: TimeInterval = 3,
                  others: inout [(from: Address, payload: [UInt8])]) -> [UInt8]? {
        for _ in 0..<tries {
            send(payload, to: destination)
            let end = Date().addingTimeInterval(timeout)
            while end.timeIntervalSinceNow > 0, let reply = receive(timeout: end.timeIntervalSinceNow) {
                if reply.from == destination { return reply.payload }
                others.append(reply)
            }
        }
        return nil
    }

    func close() {
        control.close()
        socket.close()
    }
}

/// Sends `payload` from `socket` to 127.0.0.1:`port` until a reply from that port comes (at
/// most `tries` times, `timeout` each).
func udpExchange(_ socket: LoopbackUDPSocket, _ payload: [UInt8], port: UInt16, tries: Int = 3, timeout: TimeInterval = 3) -> [UInt8]? {
    for _ in 0..<tries {
        socket.send(payload, to: port)
        let end = Date().addingTimeInterval(timeout)
        while end.timeIntervalSinceNow > 0, let reply = socket.receive(timeout: end.timeIntervalSinceNow) {
            if reply.port == port { return reply.bytes }
        }
    }
    return nil
}

// MARK: DNS

/// Just enough DNS (RFC 1035) for an A query and its answer, parsed field by field.
enum TinyDNS {
    struct Question: Equatable {
        var id: UInt16
        var recursionDesired: Bool
        var name: String
        var type: UInt16
        var qclass: UInt16
        /// Where the question section ends.
        var end: Int
    }

    struct Answer: Equatable {
        var id: UInt16
        var rcode: UInt8
        var name: String
        var addresses: [[UInt8]]
    }

    static let typeA: UInt16 = 1
    static let classIN: UInt16 = 1

    static func query(id: UInt16, name: String, type: UInt16 = typeA) -> [UInt8] {
        var m = be16(id) + [0x01, 0x00] + be16(1) + be16(0) + be16(0) + be16(0)   // RD; one question
        for label in name.split(separator: ".") { m += [UInt8(label.utf8.count)] + Array(label.utf8) }
        return m + [0] + be16(type) + be16(classIN)
    }

    /// The question of a standard query, or nil for anything else (a response, another opcode,
    /// not exactly one question, a name cut short).
    static func question(_ m: [UInt8]) -> Question? {
        guard m.count >= 12 else { return nil }
        let flags = u16(m, 2)
        guard flags & 0x8000 == 0, (flags >> 11) & 0xf == 0, u16(m, 4) == 1 else { return nil }
        var at = 12
        guard let name = readName(m, &at), m.count >= at + 4 else { return nil }
        return Question(id: u16(m, 0), recursionDesired: flags & 0x0100 != 0, name: name, type: u16(m, at), qclass: u16(m, at + 2), end: at + 4)
    }

    /// The resolver's answer to `query`: A records from `records` (names case-insensitive),
    /// NXDOMAIN for other names, an empty answer for other types; nil for what is not a query.
    static func answer(_ query: [UInt8], records: [String: [UInt8]]) -> [UInt8]? {
        guard let q = question(query) else { return nil }
        let address = q.qclass == classIN ? records[q.name.lowercased()] : nil
        let rcode: UInt16 = records[q.name.lowercased()] == nil ? 3 : 0
        var flags: UInt16 = 0x8000 | 0x0400 | 0x0080 | rcode   // QR, AA, RA
        if q.recursionDesired { flags |= 0x0100 }
        let answers = q.type == typeA ? address.map { [$0] } ?? [] : []
        var m = be16(q.id) + be16(flags) + be16(1) + be16(UInt16(answers.count)) + be16(0) + be16(0)
        m += query[12..<q.end]
        for a in answers {
            m += [0xc0, 0x0c] + be16(typeA) + be16(classIN) + [0, 0, 0x0e, 0x10] + be16(UInt16(a.count)) + a   // name at 12, TTL 3600
        }
        return m
    }

    /// A response: its ID, code, the question's name and the A records' addresses.
    static func parseAnswer(_ m: [UInt8]) -> Answer? {
        guard m.count >= 12, u16(m, 2) & 0x8000 != 0, u16(m, 4) == 1 else { return nil }
        var at = 12
        guard let name = readName(m, &at), m.count >= at + 4 else { return nil }
        at += 4
        var addresses: [[UInt8]] = []
        for _ in 0..<u16(m, 6) {
            guard readName(m, &at) != nil, m.count >= at + 10 else { return nil }
            let type = u16(m, at), rclass = u16(m, at + 2), length = Int(u16(m, at + 8))
            at += 10
            guard m.count >= at + length else { return nil }
            if type == typeA, rclass == classIN, length == 4 { addresses.append(Array(m[at..<at + 4])) }
            at += length
        }
        return Answer(id: u16(m, 0), rcode: UInt8(u16(m, 2) & 0xf), name: name, addresses: addresses)
    }

    /// A name at `at` (labels, or a compression pointer), advancing past it.
    static func readName(_ m: [UInt8], _ at: inout Int) -> String? {
        var labels: [String] = []
        var p = at
        var jumped = false
        for _ in 0..<64 {
            guard p < m.count else { return nil }
            let length = Int(m[p])
            if length == 0 {
                if !jumped { at = p + 1 }
                return labels.joined(separator: ".")
            }
            if length & 0xc0 == 0xc0 {
                guard p + 1 < m.count else { return nil }
                if !jumped { at = p + 2 }
                jumped = true
                p = (length & 0x3f) << 8 | Int(m[p + 1])
                continue
            }
            guard length <= 63, p + 1 + length <= m.count else { return nil }
            labels.append(String(decoding: m[p + 1..<p + 1 + length], as: UTF8.self))
            p += 1 + length
        }
        return nil
    }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }
    static func u16(_ m: [UInt8], _ at: Int) -> UInt16 { UInt16(m[at]) << 8 | UInt16(m[at + 1]) }
}

// MARK: two daemons

/// An entry daemon A and an exit daemon B, A dialing B as a static node: A's config gets B's
/// node ID (for `default_exit` and forwards), B's config A's (for its `[[allow]]` rules). Both
/// serve metrics.
final class UDPTunnel {
    let entry: DaemonProcess, exit: DaemonProcess
    /// Node IDs, 128 hex digits.
    let entryID: String, exitID: String
    /// The entry's SOCKS5 listener on 127.0.0.1.
    let socksPort: UInt16
    /// Each side's metrics endpoint on 127.0.0.1.
    let entryMetrics: UInt16, exitMetrics: UInt16
    /// The entry's node key (written before it starts, so the exit's rules can name it).
    private let keyDirectory: URL

    /// `exitStreams(entryID)` and `entryStreams(exitID)` are the streams tables of each side
    /// (entry: besides `[socks5]`, which this sets up).
    init(for test: XCTestCase, exitStreams: (String) -> String, entryStreams: (String) -> String) throws {
        keyDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-udp-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: keyDirectory, withIntermediateDirectories: true)
        let key = PrivateKey.generate()
        let keyPath = keyDirectory.appendingPathComponent("entry.key").path
        try NodeKeyFile.write(key, to: keyPath)
        entryID = NodeID(publicKey: key.publicKey).hex
        exitMetrics = try freeLoopbackPort()
        entryMetrics = try freeLoopbackPort()
        socksPort = try freeLoopbackPort()

        exit = try DaemonProcess(["run", "--metrics", "127.0.0.1:\(exitMetrics)"], config: TestConfig.toml() + exitStreams(entryID))
        exit.logOnFailure(of: test, label: "exit B")
        try exit.waitReady()
        let exitEnode = try exit.enode()
        exitID = try EnodeURL(parsing: exitEnode).nodeID.hex

        let socks = "[socks5]\nlisten = \"127.0.0.1:\(socksPort)\"\ndefault_exit = \"\(exitID)\"\n"
        entry = try DaemonProcess(["run", "--key", keyPath, "--static", exitEnode, "--metrics", "127.0.0.1:\(entryMetrics)"],
                                  config: TestConfig.toml() + socks + entryStreams(exitID))
        entry.logOnFailure(of: test, label: "entry A")
        try entry.waitReady()
        guard entry.waitForLog("peer added: \(exitID.prefix(16))… outbound", timeout: 30) else {
            throw DaemonTestError("the entry never reached the exit")
        }
        guard entry.waitForLog("SOCKS5 entry on 127.0.0.1:\(socksPort)") else { throw DaemonTestError("no SOCKS5 entry") }
    }

    /// A `[[forward]]` table.
    static func forward(listen: UInt16, peer: String, target: String, udp: Bool) -> String {
        "[[forward]]\nlisten = \"127.0.0.1:\(listen)\"\npeer = \"\(peer)\"\ntarget = \"\(target)\"\nnetwork = \"\(udp ? "udp" : "tcp")\"\n"
    }

    /// Waits until `daemon`'s metric `series` (as `ControlMetricsTests.samples` keys it)
    /// satisfies `predicate`; its last value (nil if never scraped).
    @discardableResult
    func metric(_ side: KeyPath<UDPTunnel, UInt16>, _ series: String, timeout: TimeInterval = 10,
                until predicate: (Double) -> Bool = { _ in true }) -> Double? {
        let end = Date().addingTimeInterval(timeout)
        var value: Double?
        repeat {
            if let text = try? ControlMetricsTests.scrape(port: self[keyPath: side], path: "/metrics").body {
                value = ControlMetricsTests.samples(text)[series]
                if let value, predicate(value) { return value }
            }
            usleep(200_000)
        } while Date() < end
        return value
    }

    func stop() {
        entry.stop()
        exit.stop()
        try? FileManager.default.removeItem(at: keyDirectory)
    }

    deinit { stop() }
}

/// A process's resident set in bytes (VmRSS), nil if it is gone.
func residentBytes(_ pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") else { return nil }
    return kb * 1024
}

/// Fails unless `got` is `expected`, saying how they differ in a line (not thousands of bytes).
func assertSameBytes(_ got: [UInt8]?, _ expected: [UInt8], _ what: @autoclosure () -> String,
                     file: StaticString = #filePath, line: UInt = #line) {
    guard let got else { return XCTFail("\(what()): nothing came", file: file, line: line) }
    guard got != expected else { return }
    let at = (0..<min(got.count, expected.count)).first { got[$0] != expected[$0] } ?? min(got.count, expected.count)
    XCTFail("\(what()): \(got.count) bytes, expected \(expected.count); first difference at byte \(at)", file: file, line: line)
}
