#if canImport(Glibc)
import Glibc
#endif
import Sockets

/// The source server's one-byte commands. A client sends one, then (for the data commands) the
/// byte count as 8 bytes big-endian; everything after depends on the command.
enum Command: UInt8 {
    /// Stream N incompressible bytes (a pre-generated random ring), then close.
    case data = 0x44          // "D"
    /// Stream N compressible bytes (repeated text), then close.
    case text = 0x5A          // "Z"
    /// Echo everything until the client's EOF.
    case echo = 0x45          // "E"
    /// Send one byte at once, then echo until the client's EOF (connect + first byte probes and idle sessions).
    case firstByte = 0x46     // "F"
    /// Wait for one trigger byte, then send the monotonic send time (8 bytes) and FIN at once (EOF latency).
    case eofAfterTrigger = 0x54  // "T"

    var takesLength: Bool { self == .data || self == .text }
}

/// Monotonic nanoseconds. CLOCK_MONOTONIC is one clock for every process on the host, so the
/// source's send time and the client's receive time can be subtracted.
func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func bigEndianBytes(_ v: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) }
}

func bigEndianValue(_ b: [UInt8]) -> UInt64 {
    b.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

/// A blocking TCP stream whose every read and write is bounded by the socket timeouts set at
/// creation (SO_RCVTIMEO / SO_SNDTIMEO), so no call of the tool can hang past them.
final class Stream {
    let fd: Int32
    private var closed = false

    init(fd: Int32, timeoutMilliseconds: Int) {
        self.fd = fd
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        var tv = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        TCPSocket.setNoDelay(fd)
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    /// Reads up to `max` bytes into `buffer`; 0 at EOF; throws on error or timeout.
    func read(into buffer: UnsafeMutableRawBufferPointer, max: Int) throws -> Int {
        while true {
            let n = recv(fd, buffer.baseAddress, min(max, buffer.count), 0)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw BenchError(errno == EAGAIN ? "read timed out" : "read: \(String(cString: strerror(errno)))")
        }
    }

    /// Exactly `count` bytes; throws at an early EOF.
    func readExactly(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        try out.withUnsafeMutableBytes { raw in
            while got < count {
                let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: raw[got...]), max: count - got)
                guard n > 0 else { throw BenchError("EOF after \(got) of \(count) bytes") }
                got += n
            }
        }
        return out
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            let n = send(fd, bytes.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            if n > 0 { off += n; continue }
            if n < 0 && errno == EINTR { continue }
            throw BenchError(n < 0 && errno == EAGAIN ? "write timed out" : "write: \(String(cString: strerror(errno)))")
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }
}
