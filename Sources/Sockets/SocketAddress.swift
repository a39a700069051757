#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 socket address built from literal bytes, as a `sockaddr_storage`.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    public let ipBytes: [UInt8]
    public let port: UInt16

    public init?(ipBytes: [UInt8], port: UInt16) {
        guard ipBytes.count == 4 || ipBytes.count == 16 else { return nil }
        self.ipBytes = ipBytes
        self.port = port
    }

    /// Parses a literal IPv4/IPv6 address (no DNS).
    public init?(ip: String, port: UInt16) {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            self.init(ipBytes: withUnsafeBytes(of: &v4) { Array($0) }, port: port)
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, ip, &v6) == 1 else { return nil }
        self.init(ipBytes: withUnsafeBytes(of: &v6) { Array($0) }, port: port)
    }

    public var family: Int32 { ipBytes.count == 4 ? AF_INET : AF_INET6 }

    public var ipString: String {
        var buf = [CChar](repeating: 0, count: 64)
        ipBytes.withUnsafeBytes { raw in _ = inet_ntop(family, raw.baseAddress, &buf, 64) }
        return String(cString: buf)
    }

    public var description: String { family == AF_INET6 ? "[\(ipString)]:\(port)" : "\(ipString):\(port)" }

    /// Calls `body` with this address as a sockaddr pointer and its length.
    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var storage = sockaddr_storage()
        return withUnsafeMutableBytes(of: &storage) { raw -> R in
            if family == AF_INET {
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: ipBytes) }
                raw.storeBytes(of: sin, as: sockaddr_in.self)
                return body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in>.size))
            } else {
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: ipBytes) }
                raw.storeBytes(of: sin6, as: sockaddr_in6.self)
                return body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
    }

    /// Reads an address out of a filled `sockaddr_storage` (accept, getpeername).
    public init?(storage: sockaddr_storage) {
        var s = storage
        switch Int32(s.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &s) { $0.load(as: sockaddr_in.self) }
            var addr = sin.sin_addr
            self.init(ipBytes: withUnsafeBytes(of: &addr) { Array($0) }, port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &s) { $0.load(as: sockaddr_in6.self) }
            var addr = sin6.sin6_addr
            self.init(ipBytes: withUnsafeBytes(of: &addr) { Array($0) }, port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }

    /// The remote address of a connected socket.
    public static func peer(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        return rc == 0 ? SocketAddress(storage: storage) : nil
    }

    /// The local address of a bound socket.
    public static func local(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return rc == 0 ? SocketAddress(storage: storage) : nil
    }
}
