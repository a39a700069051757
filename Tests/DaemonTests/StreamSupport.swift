import Enode
import Foundation
import Secp256k1
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A deterministic pseudo-random byte stream (xorshift64*), generated the same on both ends of a
/// transfer so the receiver checks every byte without either side holding the whole of it.
struct PatternStream {
    private var state: UInt64
    private var word: UInt64 = 0
    private var left = 0

    init(seed: UInt64) { state = seed | 1 }

    mutating func next(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            if left == 0 {
                state ^= state >> 12
                state ^= state << 25
                state ^= state >> 27
                word = state &* 0x2545_F491_4F6C_DD1D
                left = 8
            }
            out[i] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            left -= 1
        }
        return out
    }
}

/// Checks received bytes against the pattern, incrementally; remembers the first mismatch.
struct PatternChecker {
    private var expected: PatternStream
    private(set) var count = 0
    private(set) var firstMismatch: Int?

    init(seed: UInt64) { expected = PatternStream(seed: seed) }

    mutating func feed(_ bytes: [UInt8]) {
        let want = expected.next(bytes.count)
        if firstMismatch == nil, let i = bytes.indices.first(where: { bytes[$0] != want[$0] }) { firstMismatch = count + i }
        count += bytes.count
    }
}

/// A non-blocking TCP socket used with deadlines from one thread: the test's servers and clients.
final class TCPConn {
    let fd: Int32
    private var closed = false

    init(fd: Int32) {
        self.fd = fd
        TCPSocket.setNonBlocking(fd)
    }

    /// Connects to 127.0.0.1:`port`.
    static func connect(port: UInt16, timeout: TimeInterval = 10) throws -> TCPConn {
        guard let address = SocketAddress(ip: "127.0.0.1", port: port) else { throw DaemonTestError("bad port \(port)") }
        return TCPConn(fd: try TCPSocket.connect(to: address, timeoutMilliseconds: Int32(timeout * 1000)))
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Writes everything before `deadline`; false if it did not (or the socket failed, or
    /// `cancelled` turned true).
    @discardableResult
    func write(_ bytes: [UInt8], deadline: Date, cancelled: () -> Bool = { false }) -> Bool {
        var offset = 0
        while offset < bytes.count {
            guard let n = try? TCPSocket.writeSome(fd, bytes[offset...]) else { return false }
            offset += n
            if n == 0 {
                guard Date() < deadline, !cancelled() else { return false }
                _ = TCPSocket.waitFor(fd, events: Int16(POLLOUT), timeoutMilliseconds: 100)
            }
        }
        return true
    }

    enum ReadResult: Equatable {
        case bytes([UInt8])
        case end
        case failed
        case timeout
    }

    /// What arrives before `deadline`, at most `max` bytes (polls in 100 ms steps, so a
    /// `cancelled` caller stops within one).
    func read(max: Int = 64 * 1024, deadline: Date, cancelled: () -> Bool = { false }) -> ReadResult {
        while true {
            do {
                if let got = try TCPSocket.readAvailable(fd, max: max) { return got.isEmpty ? .end : .bytes(got) }
            } catch {
                return .failed
            }
            guard Date() < deadline, !cancelled() else { return .timeout }
            _ = TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: 100)
        }
    }

    /// Everything until end of stream, or nil if it did not end before `timeout` (or failed).
    func readToEnd(timeout: TimeInterval, limit: Int = 16 << 20) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        var all: [UInt8] = []
        while all.count <= limit {
            switch read(deadline: deadline) {
            case .bytes(let b): all += b
            case .end: return all
            case .failed, .timeout: return nil
            }
        }
        return nil
    }

    /// Exactly `count` bytes, or nil.
    func read(exactly count: Int, timeout: TimeInterval) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        var all: [UInt8] = []
        while all.count < count {
            guard case .bytes(let b) = read(max: count - all.count, deadline: deadline) else { return nil }
            all += b
        }
        return all
    }

    /// Reads `count` bytes (or until the stream ends) into `checker`; what ended the reading.
    func drain(into checker: inout PatternChecker, count: Int, deadline: Date) -> ReadResult {
        var got = 0
        while got < count {
            let r = read(max: min(256 * 1024, count - got), deadline: deadline)
            guard case .bytes(let b) = r else { return r }
            checker.feed(b)
            got += b.count
        }
        return .bytes([])
    }
}

/// A TCP server on 127.0.0.1 (an ephemeral port) serving each connection on a thread of its own
/// with `handler`. `stop()` (called by the test's teardown at the latest) ends every thread: the
/// handlers poll `stopped` at least every 100 ms.
final class LoopbackServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var isStopped = false
    private var threads = 0
    private var accepted = 0

    init(_ handler: @escaping @Sendable (TCPConn, LoopbackServer) -> Void) throws {
        guard let any = SocketAddress(ip: "127.0.0.1", port: 0) else { throw DaemonTestError("bad address") }
        listener = try TCPSocket.listen(on: any)
        guard let bound = SocketAddress.local(of: listener) else { throw DaemonTestError("getsockname failed") }
        port = bound.port
        threads = 1
        Thread.detachNewThread { [self] in
            defer { lock.withLock { threads -= 1 } }
            while !stopped {
                guard TCPSocket.waitFor(listener, events: Int16(POLLIN), timeoutMilliseconds: 100) else { continue }
                let fd = Glibc.accept(listener, nil, nil)
                guard fd >= 0 else { continue }
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                lock.withLock {
                    threads += 1
                    accepted += 1
                }
                Thread.detachNewThread { [self] in
                    let conn = TCPConn(fd: fd)
                    handler(conn, self)
                    conn.close()
                    lock.withLock { threads -= 1 }
                }
            }
        }
    }

    var stopped: Bool { lock.withLock { isStopped } }
    var connections: Int { lock.withLock { accepted } }

    /// Stops accepting, waits (bounded) for every connection's thread to end, closes the listener.
    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { isStopped = true }
            return !isStopped
        }
        guard first else { return }
        let end = Date().addingTimeInterval(15)
        while lock.withLock({ threads }) > 0 && Date() < end { usleep(20_000) }
        Glibc.close(listener)
    }

    deinit { stop() }

    /// The pattern with seed `seed`: `count` bytes of it.
    static func pattern(seed: UInt64, count: Int) -> [UInt8] {
        var p = PatternStream(seed: seed)
        return p.next(count)
    }

    /// Starts a server that `test` stops at its teardown.
    static func start(for test: XCTestCase, _ handler: @escaping @Sendable (TCPConn, LoopbackServer) -> Void) throws -> LoopbackServer {
        let server = try LoopbackServer(handler)
        test.addTeardownBlock { server.stop() }
        return server
    }

    // MARK: handlers

    /// An HTTP/1.1 server that answers every request with `body` and closes.
    static func http(for test: XCTestCase, body: [UInt8]) throws -> LoopbackServer {
        try start(for: test) { conn, server in
            let deadline = Date().addingTimeInterval(60)
            var request: [UInt8] = []
            while !request.ends(with: Array("\r\n\r\n".utf8)), request.count < 16 * 1024 {
                guard case .bytes(let b) = conn.read(max: 1, deadline: deadline, cancelled: { server.stopped }) else { return }
                request += b
            }
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            conn.write(Array(head.utf8) + body, deadline: deadline) { server.stopped }
        }
    }

    /// Echoes until the client's end of stream, then sends `trailer` and closes.
    static func echo(for test: XCTestCase, trailer: [UInt8]) throws -> LoopbackServer {
        try start(for: test) { conn, server in
            let deadline = Date().addingTimeInterval(300)
            while true {
                switch conn.read(deadline: deadline, cancelled: { server.stopped }) {
                case .bytes(let b): guard conn.write(b, deadline: deadline, cancelled: { server.stopped }) else { return }
                case .end:
                    conn.write(trailer, deadline: deadline) { server.stopped }
                    return
                case .failed, .timeout: return
                }
            }
        }
    }

    /// Sends `banner`, shuts its write side first, then reads what the client still sends
    /// until its end of stream (kept in `received`, with how the stream ended).
    static func bannerFirst(for test: XCTestCase, banner: [UInt8], received: Received) throws -> LoopbackServer {
        try start(for: test) { conn, server in
            let deadline = Date().addingTimeInterval(120)
            guard conn.write(banner, deadline: deadline, cancelled: { server.stopped }) else { return }
            conn.shutdownWrite()
            while true {
                let r = conn.read(deadline: deadline, cancelled: { server.stopped })
                guard case .bytes(let b) = r else { return received.finish(r) }
                received.append(b)
            }
        }
    }

    /// Reads and discards until end of stream.
    static func sink(for test: XCTestCase) throws -> LoopbackServer {
        try start(for: test) { conn, server in
            let deadline = Date().addingTimeInterval(300)
            while case .bytes = conn.read(deadline: deadline, cancelled: { server.stopped }) {}
        }
    }

    /// Sends `count` bytes of the pattern with seed `seed` to every client, then closes;
    /// `progress` (if given) counts the bytes the source got rid of.
    static func source(for test: XCTestCase, seed: UInt64, count: Int, progress: ByteCounter? = nil) throws -> LoopbackServer {
        try start(for: test) { conn, server in
            var pattern = PatternStream(seed: seed)
            let deadline = Date().addingTimeInterval(600)
            var sent = 0
            while sent < count {
                let chunk = pattern.next(min(64 * 1024, count - sent))
                guard conn.write(chunk, deadline: deadline, cancelled: { server.stopped }) else { return }
                sent += chunk.count
                progress?.add(chunk.count)
            }
        }
    }
}

/// What a server thread received and how its stream ended, for the test to read.
final class Received: @unchecked Sendable {
    private let lock = NSLock()
    private var data: [UInt8] = []
    private var how: TCPConn.ReadResult?
    func append(_ b: [UInt8]) { lock.withLock { data += b } }
    func finish(_ r: TCPConn.ReadResult) { lock.withLock { how = r } }
    var bytes: [UInt8] { lock.withLock { data } }
    var ending: TCPConn.ReadResult? { lock.withLock { how } }
}

/// A byte count shared between a server thread and the test.
final class ByteCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    func add(_ n: Int) { lock.withLock { total += n } }
    var value: Int { lock.withLock { total } }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

/// A node key of the test's own, written to a file so a config can name the node's ID before
/// the daemon starts (`[node] key_file`).
struct NodeKeyOnDisk {
    let identity = TestIdentity()
    let path: String

    init(in directory: URL) throws {
        path = directory.appendingPathComponent("nodekey-\(UUID().uuidString.prefix(8))").path
        try NodeKeyFile.write(identity.key, to: path)
    }

    var id: String { identity.nodeID.hex }
    var shortID: String { identity.shortID }
}

/// A scratch directory removed at the test's teardown.
func scratchDirectory(for test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-streams-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Config for a streams daemon: its key file, two workers, then `extra` (TOML tables).
func streamsConfig(key: NodeKeyOnDisk?, _ extra: String = "") -> String {
    var lines: [String] = []
    if let key { lines += ["[node]", "key_file = \"\(key.path)\""] }
    lines += ["[workers]", "count = \(TestConfig.workers)"]
    return lines.joined(separator: "\n") + "\n" + extra + "\n"
}

extension DaemonProcess {
    /// Starts `stockade run` with `config`, stopped (and its log printed on failure) at teardown.
    static func started(for test: XCTestCase, label: String, config: String, arguments: [String] = []) throws -> DaemonProcess {
        let d = try DaemonProcess(["run"] + arguments, config: config)
        test.addTeardownBlock { d.stop() }
        d.logOnFailure(of: test, label: label)
        try d.waitReady()
        return d
    }

    /// Waits until the peer with ID `id` is live here (the supervisor logs "peer added").
    func waitForPeer(_ id: String, timeout: TimeInterval = 30) throws {
        guard waitForLog("peer added: \(id.prefix(16))…", timeout: timeout) else {
            throw DaemonTestError("peer \(id.prefix(16))… never added; stderr:\n\(stderr)")
        }
    }
}

/// `curl` run to completion (killed after `timeout`).
func curl(_ arguments: [String], timeout: TimeInterval = 120) throws -> CLIResult {
    try runToCompletion("/usr/bin/curl", arguments, timeout: timeout)
}
