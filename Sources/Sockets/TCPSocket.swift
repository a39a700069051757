#if canImport(Glibc)
import Glibc
#endif

/// Small POSIX TCP helpers shared by the roles and the client: every socket is non-blocking and
/// close-on-exec, and every wait is bounded by a deadline.
public enum TCPSocket {
    public struct SocketError: Error, Sendable, CustomStringConvertible {
        public let operation: String
        public let errno: Int32
        public init(_ operation: String, _ code: Int32) { self.operation = operation; self.errno = code }
        public var description: String { "\(operation): \(String(cString: strerror(errno)))" }
        /// Connection refused, host or network unreachable: nothing listens there.
        public var isUnreachable: Bool { [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL].contains(errno) }
    }

    /// Starts a non-blocking connect; the fd becomes writable when it completes
    /// (then check `pendingError`). The caller owns the returned fd.
    public static func startConnect(to address: SocketAddress) throws(SocketError) -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno) }
        setNoDelay(fd)
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 && errno != EINPROGRESS {
            let code = errno
            close(fd)
            throw SocketError("connect to \(address)", code)
        }
        return fd
    }

    /// Connects with a deadline. Throws ETIMEDOUT when the deadline passes.
    public static func connect(to address: SocketAddress, timeoutMilliseconds: Int32) throws(SocketError) -> Int32 {
        let fd = try startConnect(to: address)
        guard waitFor(fd, events: Int16(POLLOUT), timeoutMilliseconds: timeoutMilliseconds) else {
            close(fd)
            throw SocketError("connect to \(address)", ETIMEDOUT)
        }
        let err = pendingError(fd)
        if err != 0 {
            close(fd)
            throw SocketError("connect to \(address)", err)
        }
        return fd
    }

    /// SO_ERROR: the outcome of a non-blocking connect.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }

    /// Waits until `fd` has `events` or the timeout passes; false on timeout.
    public static func waitFor(_ fd: Int32, events: Int16, timeoutMilliseconds: Int32) -> Bool {
        var p = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let rc = poll(&p, 1, max(0, timeoutMilliseconds))
            if rc < 0 && errno == EINTR { continue }
            return rc > 0
        }
    }

    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    public static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    /// A listening TCP socket bound to `address` (SO_REUSEADDR; backlog as systemd's default).
    public static func listen(on address: SocketAddress, backlog: Int32 = 512) throws(SocketError) -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if address.bindRC(fd) != 0 {
            let code = errno
            close(fd)
            throw SocketError("bind \(address)", code)
        }
        if Glibc.listen(fd, backlog) != 0 {
            let code = errno
            close(fd)
            throw SocketError("listen \(address)", code)
        }
        return fd
    }

    /// A UDP socket bound to `address` (a UDP forward's listener).
    public static func bindUDP(on address: SocketAddress) throws(SocketError) -> Int32 {
        let fd = socket(address.family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno) }
        if address.bindRC(fd) != 0 {
            let code = errno
            close(fd)
            throw SocketError("bind \(address)", code)
        }
        return fd
    }

    /// Reads what is available (at most `max` bytes). Returns [] at end of stream, nil when the
    /// read would block.
    public static func readAvailable(_ fd: Int32, max: Int) throws(SocketError) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: max)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, max) }
            if n > 0 { return Array(buf[0..<n]) }
            if n == 0 { return [] }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw SocketError("read", errno)
        }
    }

    /// Writes as much as the socket takes now; returns the count written (0 if it would block).
    public static func writeSome(_ fd: Int32, _ bytes: ArraySlice<UInt8>) throws(SocketError) -> Int {
        while true {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return 0 }
            throw SocketError("write", errno)
        }
    }
}

extension SocketAddress {
    func bindRC(_ fd: Int32) -> Int32 { withSockaddr { bind(fd, $0, $1) } }
}
