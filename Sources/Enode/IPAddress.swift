#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IP address from an enode URL: 4 bytes (IPv4) or 16 bytes (IPv6), network order.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// 4 or 16 bytes; nil otherwise. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4,
    /// as go-ethereum stores `To4()`, so equal addresses compare equal.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self.bytes = bytes
        case 16:
            let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
            self.bytes = mapped ? Array(bytes[12..<16]) : bytes
        default:
            return nil
        }
    }

    /// Parses a dotted-quad IPv4 or an RFC 4291 IPv6 literal (no brackets, no zone).
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        self.init(bytes: withUnsafeBytes(of: &v6) { Array($0) })
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// The canonical text form (inet_ntop: RFC 5952 compression for IPv6, as Go's net.IP.String).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if isIPv4 {
            var addr = in_addr()
            withUnsafeMutableBytes(of: &addr) { $0.copyBytes(from: bytes) }
            _ = inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
        } else {
            var addr = in6_addr()
            withUnsafeMutableBytes(of: &addr) { $0.copyBytes(from: bytes) }
            _ = inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
        }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
