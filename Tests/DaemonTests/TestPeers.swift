import DevP2P
import Enode
import Foundation
import PeerLink
import Secp256k1
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The test side of a connection: a PeerLink with a fresh identity that announces the Stockade
/// capability (a node sharing no capability is dropped with UselessPeer after Hello).
enum TestPeer {
    static let clientID = "stockade-e2e-test"

    static func hello(for key: PrivateKey) -> Hello {
        Hello(clientID: clientID, capabilities: [StockadeProtocol.capability], listenPort: 0, nodeID: key.publicKey.raw64)
    }

    /// Dials `enode` as `key` (a fresh identity unless given): handshake and Hello within `timeout`.
    static func dial(_ enode: EnodeURL, key: PrivateKey = .generate(), timeout: Duration = .seconds(10)) throws(PeerLinkError) -> PeerLink {
        try PeerLink.dial(enode, key: key, hello: hello(for: key), timeout: timeout)
    }

    /// The log prefix the daemon uses for a peer: the first 16 hex digits of its node ID.
    static func logID(_ key: PrivateKey) -> String {
        String(NodeID(publicKey: key.publicKey).hex.prefix(16))
    }

    static func dial(_ enode: String, timeout: Duration = .seconds(10)) throws -> PeerLink {
        try dial(EnodeURL(parsing: enode), timeout: timeout)
    }
}

/// A plain TCP connection to the daemon for bytes that are not a handshake (or only its start).
final class RawConnection {
    let fd: Int32

    init(to address: SocketAddress, timeoutMilliseconds: Int32 = 5000) throws {
        fd = try TCPSocket.connect(to: address, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Connects from the loopback address `source` (any 127.x.y.z is local on Linux), so a test
    /// can play several remote hosts: the acceptor judges throttles and penalties per source.
    init(to address: SocketAddress, from source: String, timeoutMilliseconds: Int32 = 5000) throws {
        guard let local = SocketAddress(ip: source, port: 0) else { throw DaemonTestError("bad source \(source)") }
        fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonTestError("socket: \(String(cString: strerror(errno)))") }
        let bound = local.withSockaddr { bind(fd, $0, $1) }
        let started = bound == 0 ? address.withSockaddr { connect(fd, $0, $1) } : -1
        let failure = started == 0 || errno == EINPROGRESS ? 0 : errno
        if failure == 0 && started != 0 && !TCPSocket.waitFor(fd, events: Int16(POLLOUT), timeoutMilliseconds: timeoutMilliseconds) {
            Glibc.close(fd)
            throw DaemonTestError("connect from \(source) to \(address) timed out")
        }
        let pending = failure == 0 ? TCPSocket.pendingError(fd) : failure
        guard pending == 0 else {
            Glibc.close(fd)
            throw DaemonTestError("\(bound == 0 ? "connect" : "bind") from \(source) to \(address): \(String(cString: strerror(pending)))")
        }
    }

    convenience init(to enode: EnodeURL, from source: String? = nil) throws {
        guard let ip = enode.ip, let address = SocketAddress(ipBytes: ip.bytes, port: enode.tcpPort) else {
            throw DaemonTestError("enode has no address: \(enode)")
        }
        if let source { try self.init(to: address, from: source) } else { try self.init(to: address) }
    }

    private var closed = false

    /// Connects to a socket that systemd-socket-activate is about to bind: tries again until
    /// `timeout`; nil if nothing ever listened.
    static func once(listening address: SocketAddress, timeout: TimeInterval = 10) -> RawConnection? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let c = try? RawConnection(to: address) { return c }
            usleep(20_000)
        }
        return nil
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try TCPSocket.writeSome(fd, bytes[offset...])
            offset += n
            if n == 0 && !TCPSocket.waitFor(fd, events: Int16(POLLOUT), timeoutMilliseconds: 5000) {
                throw DaemonTestError("write stalled")
            }
        }
    }

    /// Exactly `count` bytes, or nil if the stream ends or `timeout` passes first.
    func read(exactly count: Int, timeout: TimeInterval) -> [UInt8]? {
        let end = Date().addingTimeInterval(timeout)
        var got: [UInt8] = []
        while got.count < count {
            let left = Int32(max(0, end.timeIntervalSinceNow * 1000))
            guard left > 0, TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: left) else { return nil }
            guard let bytes = try? TCPSocket.readAvailable(fd, max: count - got.count) else { return nil }
            if bytes.isEmpty { return nil }
            got += bytes
        }
        return got
    }

    /// Reads and discards until the daemon closes the connection (end of stream or reset);
    /// false if it is still open after `timeout`.
    func waitClosedByRemote(timeout: TimeInterval) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while true {
            let left = Int32(max(0, end.timeIntervalSinceNow * 1000))
            guard left > 0, TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: left) else { return false }
            do {
                if let bytes = try TCPSocket.readAvailable(fd, max: 4096), bytes.isEmpty { return true }
            } catch {
                return true   // ECONNRESET: closed with unread data, still closed
            }
        }
    }
}

/// A thread that dials the daemon over and over (handshake, Hello, Disconnect) until stopped,
/// counting what succeeded and what failed.
final class DialLoad: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private var done = false
    private var successes = 0
    private var failures: [String] = []

    init(_ enode: EnodeURL) {
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                do {
                    let link = try TestPeer.dial(enode, timeout: .seconds(10))
                    link.disconnect(.requested)
                    lock.withLock { successes += 1 }
                } catch {
                    lock.withLock { failures.append("\(error)") }
                    usleep(10_000)
                }
            }
            lock.withLock { done = true }
        }
    }

    var successCount: Int { lock.withLock { successes } }
    var failureMessages: [String] { lock.withLock { failures } }

    /// Waits until `count` more dials than `base` succeeded; false after `timeout`.
    func waitForSuccesses(beyond base: Int, count: Int = 1, timeout: TimeInterval = 15) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if successCount >= base + count { return true }
            usleep(20_000)
        }
        return successCount >= base + count
    }

    /// Stops dialing and waits for the dial in progress to end.
    func stop() {
        lock.withLock { running = false }
        let end = Date().addingTimeInterval(15)
        while !lock.withLock({ done }) && Date() < end { usleep(10_000) }
    }
}

/// A Unix datagram socket standing in for systemd's notification socket: it receives what the
/// daemon sends with sd_notify, with the sender's pid (SO_PASSCRED), so a test can check that
/// only the supervisor notifies (NotifyAccess=main).
final class NotifySocket {
    struct Notification {
        let pid: Int32
        let fields: [String]
    }

    /// Linux's SCM_CREDENTIALS (<bits/socket.h>), which Glibc's Swift overlay does not export.
    static let scmCredentials: Int32 = 0x02

    let path: String
    private let fd: Int32

    init(directory: URL) throws {
        path = directory.appendingPathComponent("notify.sock").path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonTestError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw DaemonTestError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw DaemonTestError("bind \(path): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next notification within `timeout`, or nil.
    func receive(timeout: TimeInterval) -> Notification? {
        guard TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: Int32(timeout * 1000)) else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var control = [UInt8](repeating: 0, count: 256)
        var pid: Int32 = 0
        let n = buffer.withUnsafeMutableBytes { data -> Int in
            control.withUnsafeMutableBytes { ctl -> Int in
                var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &iov) { iovp -> Int in
                    var msg = msghdr()
                    msg.msg_iov = iovp
                    msg.msg_iovlen = 1
                    msg.msg_control = ctl.baseAddress
                    msg.msg_controllen = ctl.count
                    let got = recvmsg(fd, &msg, Int32(MSG_DONTWAIT))
                    guard got >= 0 else { return got }
                    // SCM_CREDENTIALS: struct ucred { pid, uid, gid } after the cmsghdr.
                    var offset = 0
                    let header = MemoryLayout<cmsghdr>.size
                    while offset + header <= Int(msg.msg_controllen) {
                        let cmsg = ctl.load(fromByteOffset: offset, as: cmsghdr.self)
                        if cmsg.cmsg_level == SOL_SOCKET && cmsg.cmsg_type == Self.scmCredentials {
                            pid = ctl.loadUnaligned(fromByteOffset: offset + header, as: Int32.self)
                        }
                        let step = (Int(cmsg.cmsg_len) + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1)
                        if step == 0 { break }
                        offset += step
                    }
                    return got
                }
            }
        }
        guard n >= 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        return Notification(pid: pid, fields: text.split(separator: "\n").map(String.init))
    }

    /// Collects notifications until every field prefix in `wanted` was seen; the ones received.
    func collect(until wanted: [String], timeout: TimeInterval) -> [Notification] {
        let end = Date().addingTimeInterval(timeout)
        var got: [Notification] = []
        while Date() < end {
            let seen = got.flatMap(\.fields)
            if wanted.allSatisfy({ w in seen.contains { $0.hasPrefix(w) } }) { break }
            if let n = receive(timeout: max(0.01, end.timeIntervalSinceNow)) { got.append(n) }
        }
        return got
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed).
func freeLoopbackPort() throws -> UInt16 {
    guard let any = SocketAddress(ip: "127.0.0.1", port: 0) else { throw DaemonTestError("bad address") }
    let fd = try TCPSocket.listen(on: any)
    defer { close(fd) }
    guard let bound = SocketAddress.local(of: fd) else { throw DaemonTestError("getsockname failed") }
    return bound.port
}
