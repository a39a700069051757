import Enode

/// An `IP:port` socket address as written in config and on the command line
/// (`127.0.0.1:30303`, `[::1]:30303`). Host names are refused: a node's listen and dial
/// addresses are literal so that nothing resolves DNS at run time.
public struct HostPort: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let ip: String
    public let port: UInt16
    public var isIPv6: Bool { ip.contains(":") }

    public init(ip: String, port: UInt16) { self.ip = ip; self.port = port }

    public static func parse(_ s: String) -> HostPort? {
        let host: Substring
        let portText: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            host = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = s.lastIndex(of: ":") else { return nil }
            host = s[..<colon]
            portText = s[s.index(after: colon)...]
            if host.contains(":") { return nil }   // bare IPv6 needs brackets
        }
        guard let port = UInt16(portText), IPAddress(String(host)) != nil else { return nil }
        return HostPort(ip: String(host), port: port)
    }

    public var description: String { isIPv6 ? "[\(ip)]:\(port)" : "\(ip):\(port)" }
}

/// A CIDR network such as `10.0.0.0/8` (go-ethereum's netutil.Netlist entries).
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    public let network: [UInt8]
    public let prefixLength: Int

    public init?(parsing s: String) {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bytes = IPAddress(String(parts[0]))?.bytes,
              let len = Int(parts[1]), len >= 0, len <= bytes.count * 8 else { return nil }
        network = CIDR.mask(bytes, len)
        prefixLength = len
    }

    public func contains(ip: String) -> Bool {
        guard let address = IPAddress(ip) else { return false }
        return contains(address)
    }

    /// Whether `address` is in this network. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
    /// already IPv4 in `IPAddress`, so it matches IPv4 networks; IPv4 never matches IPv6 ones.
    public func contains(_ address: IPAddress) -> Bool {
        address.bytes.count == network.count && CIDR.mask(address.bytes, prefixLength) == network
    }

    static func mask(_ b: [UInt8], _ len: Int) -> [UInt8] {
        b.enumerated().map { i, byte in
            let bits = max(0, min(8, len - i * 8))
            return bits == 8 ? byte : byte & UInt8(truncatingIfNeeded: 0xff << (8 - bits))
        }
    }

    public var description: String { "\(IPAddress(bytes: network)?.description ?? "?")/\(prefixLength)" }
}
