import Enode
import NodeConfig

/// A host after canonicalization (`AddressCanonicalizer`): an IP address, or a lowercase DNS
/// name without its trailing dot. The same type the config parser checks hosts with.
public typealias CanonicalHost = NodeConfig.CanonicalHost

/// The canonical form every address takes before a rule sees it, so that one address cannot
/// pass for another (OWASP SSRF prevention cheat sheet, "bypass" classes: decimal, octal and hex
/// IPs, short forms like `127.1`, `0.0.0.0`, IPv4-mapped IPv6, `localhost` names).
public enum AddressCanonicalizer {
    /// `host` without brackets or port; nil when it is no usable host. The forms, and the source
    /// of each, are listed on `NodeConfig.canonicalHost`:
    ///
    ///     "::ffff:127.0.0.1", "::ffff:7f00:1", "127.1", "2130706433", "0x7f000001",
    ///     "0177.0.0.1", "0.0.0.0", "LOCALHOST.", "a.localhost"   → .ip(127.0.0.1)
    ///     "::"                                                   → .ip(::1)
    ///     "Example.COM."                                         → .name("example.com")
    ///     "fe80::1%eth0", "a b", "a\0b", "", 254 bytes, "1.2.3.256" → nil
    public static func canonical(_ host: String) -> CanonicalHost? {
        NodeConfig.canonicalHost(host)
    }

    /// The address `connect()` would reach: IPv4-mapped IPv6 is IPv4, `0.0.0.0` and `::` loopback.
    public static func canonical(_ ip: IPAddress) -> IPAddress {
        NodeConfig.canonicalAddress(ip)
    }
}

/// What a peer asks the exit to connect to: the address of a Mux.Cool New frame.
public enum ExitTarget: Equatable, Sendable, CustomStringConvertible {
    /// A named service of `[services]` (sent as a domain address with port 0).
    case service(String)
    /// An IP literal and port.
    case address(IPAddress, UInt16)
    /// A DNS name and port.
    case name(String, UInt16)

    /// From a Mux.Cool New frame's address: `host` is the text of an IPv4/IPv6/domain address.
    /// A domain with port 0 is a service name (`[a-z0-9][a-z0-9_-]{0,62}`). A domain that is an
    /// IP in any form (`127.1`, `0x7f000001`, `localhost`) becomes `.address`, canonical; a name
    /// is lowercased without its trailing dot. nil: invalid (empty, NUL, over 255 bytes, which
    /// no Mux.Cool domain can be, or a host `AddressCanonicalizer` refuses).
    public static func from(host: String, port: UInt16) -> ExitTarget? {
        let bytes = host.utf8
        guard !bytes.isEmpty, bytes.count <= 255, !bytes.contains(0) else { return nil }
        if port == 0 { return NodeConfig.isServiceName(host) ? .service(host) : nil }
        switch AddressCanonicalizer.canonical(host) {
        case .ip(let ip)?: return .address(ip, port)
        case .name(let name)?: return .name(name, port)
        case nil: return nil
        }
    }

    /// `service web`, `127.0.0.1:80`, `[::1]:80`, `example.com:443`: for log lines.
    public var description: String {
        switch self {
        case .service(let name): return "service \(name)"
        case .address(let ip, let port): return ExitTarget.endpointText(ip, port)
        case .name(let name, let port): return "\(name):\(port)"
        }
    }

    static func endpointText(_ ip: IPAddress, _ port: UInt16) -> String {
        ip.isIPv4 ? "\(ip):\(port)" : "[\(ip)]:\(port)"
    }
}
