import Enode

/// The grammar shared by the streams tables and the exit policy: canonical hosts, service
/// names, `host:port` endpoints, rule targets and rule peers. It lives here, next to the
/// parser, so that the config file refuses exactly what the exit policy (module `ExitPolicy`)
/// could not use; the policy builds its rules with these same functions.
extension NodeConfig {
    /// Why a piece of the streams grammar was refused, in words for an operator.
    public struct GrammarError: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// A host after canonicalization: an IP address, or a lowercase DNS name with no trailing dot.
    public enum CanonicalHost: Equatable, Sendable, Hashable {
        case ip(IPAddress)
        case name(String)
    }

    static let loopbackV4 = IPAddress(bytes: [127, 0, 0, 1])!
    static let loopbackV6 = IPAddress(bytes: [UInt8](repeating: 0, count: 15) + [1])!

    /// The address a Linux `connect()` would reach: an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
    /// is its IPv4 address (`IPAddress` already stores it so), and the unspecified addresses
    /// `0.0.0.0` and `::` are loopback, because Linux sends a connect to them to the local host
    /// (an SSRF bypass class in OWASP's SSRF prevention cheat sheet: "http://0.0.0.0/").
    /// Only 0.0.0.0 itself: the rest of 0.0.0.0/8 is refused by connect() or is, since Linux 5.3,
    /// an ordinary unicast range a host may configure, so it is left as it is.
    public static func canonicalAddress(_ ip: IPAddress) -> IPAddress {
        if ip.bytes.allSatisfy({ $0 == 0 }) { return ip.isIPv4 ? loopbackV4 : loopbackV6 }
        return ip
    }

    /// The canonical form of a host as written in a Mux.Cool address, a service, a rule or a
    /// forward, before any rule sees it; nil when it is not a usable host.
    ///
    /// - IPv6 literals (anything with a colon), as `inet_pton` reads them, then `canonicalAddress`
    ///   (so `::ffff:127.0.0.1`, `::ffff:7f00:1` are 127.0.0.1 and `::` is ::1). Zone ids
    ///   (`fe80::1%eth0`) are refused: a zone picks an interface, which no rule can name.
    /// - Every IPv4 form glibc's `inet_aton` accepts (`127.1`, `2130706433`, `0x7f.0.0.1`,
    ///   `0177.0.0.1`), parsed here (`parseInetAton`), because `getaddrinfo` would read a "name"
    ///   in that form as that address without asking DNS (OWASP SSRF bypass class: "decimal/octal/
    ///   hex IP"). A host whose last label looks numeric (digits, or `0x` and hex digits) must
    ///   parse as IPv4 or is refused, as the WHATWG URL Standard's "ends in a number" rule does:
    ///   no DNS name ends in an all-numeric label (RFC 3696 section 2), so nothing is lost.
    /// - Names are lowercased (DNS compares case-insensitively, RFC 4343), one trailing dot
    ///   dropped, and checked: labels of 1 to 63 bytes of `a-z 0-9 - _`. `localhost` and names
    ///   under `.localhost` are 127.0.0.1 without DNS (RFC 6761 section 6.3), so that a rule on
    ///   127.0.0.0/8 also covers them.
    /// - Refused: empty, over 253 bytes, NUL, spaces, control or non-ASCII bytes (an IDN must be
    ///   written in its A-label form), and empty labels (`a..b`).
    public static func canonicalHost(_ text: String) -> CanonicalHost? {
        let raw = Array(text.utf8)
        guard !raw.isEmpty, raw.count <= 253, raw.allSatisfy({ $0 > 0x20 && $0 < 0x7f }), !raw.contains(UInt8(ascii: "%")) else {
            return nil
        }
        if raw.contains(UInt8(ascii: ":")) {
            return IPAddress(text).map { .ip(canonicalAddress($0)) }
        }
        var name = raw.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
        if name.last == UInt8(ascii: ".") { name.removeLast() }
        let labels = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard !name.isEmpty, labels.allSatisfy({ !$0.isEmpty && $0.count <= 63 && $0.allSatisfy(isNameByte) }) else {
            return nil
        }
        if let last = labels.last, looksNumeric(last) {
            return parseInetAton(name).map { .ip(canonicalAddress($0)) }
        }
        let text = String(decoding: name, as: UTF8.self)
        if text == "localhost" || text.hasSuffix(".localhost") { return .ip(loopbackV4) }
        return .name(text)
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    /// WHATWG URL "ends in a number": all decimal digits, or `0x` followed by hex digits (or none).
    private static func looksNumeric(_ label: ArraySlice<UInt8>) -> Bool {
        if label.allSatisfy(isDigit) { return true }
        guard label.count >= 2, label.first == UInt8(ascii: "0"), label.dropFirst().first == UInt8(ascii: "x") else { return false }
        return label.dropFirst(2).allSatisfy { Hex.decode([UInt8(ascii: "0"), $0]) != nil }
    }

    /// The numbers-and-dots forms of `inet_aton(3)` (lowercase input): one to four parts split
    /// by dots, each decimal, octal (leading 0) or hex (leading 0x); every part but the last is
    /// one byte, the last fills the remaining bytes (`a`, `a.b` with b 24 bits, `a.b.c` with c
    /// 16 bits, `a.b.c.d`). Strict where glibc is: an empty part, `0x` with no digits, 8 or 9 in
    /// an octal part, a value past 32 bits or past its part's width is no address at all.
    static func parseInetAton(_ text: [UInt8]) -> IPAddress? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt32] = []
        for part in parts {
            guard let v = inetAtonPart(part) else { return nil }
            values.append(v)
        }
        let last = values.removeLast()
        guard values.allSatisfy({ $0 <= 0xff }) else { return nil }
        let lastBits = 32 - 8 * values.count
        guard lastBits == 32 || last >> UInt32(lastBits) == 0 else { return nil }
        var word = last
        for (i, v) in values.enumerated() { word |= v << UInt32(24 - 8 * i) }
        return IPAddress(bytes: [UInt8(word >> 24), UInt8(word >> 16 & 0xff), UInt8(word >> 8 & 0xff), UInt8(word & 0xff)])
    }

    /// One part of an inet_aton address: its value, or nil (no digits, a bad digit, over 32 bits).
    private static func inetAtonPart(_ part: ArraySlice<UInt8>) -> UInt32? {
        var digits = part
        var base: UInt64 = 10
        if digits.first == UInt8(ascii: "0") && digits.count > 1 {
            digits = digits.dropFirst()
            base = 8
            if digits.first == UInt8(ascii: "x") { digits = digits.dropFirst(); base = 16 }
        }
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for b in digits {
            guard let d = Hex.decode([UInt8(ascii: "0"), b]).map({ UInt64($0[0]) }), d < base else { return nil }
            value = value * base + d
            guard value <= UInt64(UInt32.max) else { return nil }
        }
        return UInt32(value)
    }

    /// A service name of `[services]`: `[a-z0-9][a-z0-9_-]{0,62}`, so that it is also a valid
    /// DNS label (the SOCKS5 entry reaches it as `<service>.<id>.stk`).
    public static func isServiceName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, b.count <= 63, first != UInt8(ascii: "-"), first != UInt8(ascii: "_") else { return false }
        return b.allSatisfy(isNameByte)
    }

    /// Splits `host:port` or `[host]:port` (brackets required for IPv6). nil when there is no
    /// port part or an IPv6 host is not bracketed.
    static func splitHostPort(_ text: String) -> (host: Substring, bracketed: Bool, port: Substring)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            return (text[text.index(after: text.startIndex)..<close], true, rest.dropFirst())
        }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = text[..<colon]
        guard !host.contains(":") else { return nil }
        return (host, false, text[text.index(after: colon)...])
    }

    /// A port 1...65535 in decimal (at most 5 digits, no sign).
    static func parsePort(_ s: Substring) -> UInt16? {
        guard !s.isEmpty, s.utf8.count <= 5, s.utf8.allSatisfy(isDigit), let p = UInt16(s), p > 0 else { return nil }
        return p
    }

    /// `IP:port`, `[IPv6]:port` or `dns-name:port` (a `[services]` value, a forward's target),
    /// the host canonical, the port 1...65535.
    public static func parseEndpoint(_ text: String) throws(GrammarError) -> (host: CanonicalHost, port: UInt16) {
        guard let (host, bracketed, portText) = splitHostPort(text) else {
            throw GrammarError("not host:port (IPv6 in brackets): \(text)")
        }
        guard let port = parsePort(portText) else { throw GrammarError("port must be 1...65535: \(text)") }
        guard let canonical = canonicalHost(String(host)), bracketed == host.contains(":") else {
            throw GrammarError("not an IP address or DNS name: \(text)")
        }
        return (canonical, port)
    }

    /// The node ID (128 lowercase hex digits) of a config value that is a 128-hex node ID or an
    /// enode URL; the key must be a point of secp256k1, as every real node ID is.
    public static func nodeIDHex(_ text: String) throws(GrammarError) -> String {
        do { return try EnodeURL(parsing: text).nodeID.hex } catch {
            throw GrammarError("not a node ID (128 hex digits) or enode URL: \(error): \(text)")
        }
    }

    /// An entry of a rule's `peers`: one node, or every trusted node.
    public enum PeerSelector: Equatable, Sendable, Hashable {
        /// The 64 bytes of a node ID.
        case node([UInt8])
        case trusted

        /// "trusted", a 128-hex node ID or an enode URL (its ID is used).
        public init(parsing text: String) throws(GrammarError) {
            if text == "trusted" { self = .trusted; return }
            do { self = .node(try EnodeURL(parsing: text).nodeID.bytes) } catch {
                throw GrammarError("not \"trusted\", a node ID (128 hex digits) or an enode URL: \(error): \(text)")
            }
        }

        /// "trusted" or 128 lowercase hex digits: how the parser stores it.
        public var text: String {
            switch self {
            case .trusted: return "trusted"
            case .node(let id): return Hex.encode(id)
            }
        }
    }

    /// One entry of a rule's `targets`:
    ///
    ///     web                  a service name of [services]
    ///     10.0.0.5:80          an IP (any inet_aton form; canonical) and port
    ///     [fd00::5]:80         an IPv6 address and port
    ///     10.0.0.0/8:80        an IPv4 network
    ///     [fd00::/8]:80        an IPv6 network
    ///     example.com:443      a DNS name (canonical: lowercase, no trailing dot)
    ///
    /// The port part is a port, a range `lo-hi` (inclusive) or `*` (1-65535).
    public struct TargetPattern: Equatable, Sendable, CustomStringConvertible {
        public enum Host: Equatable, Sendable {
            case service(String)
            case ip(IPAddress)
            case network(CIDR)
            case name(String)
        }

        public let host: Host
        /// The ports matched; 1...65535 for `*`. Unused for a service (its port is configured).
        public let ports: ClosedRange<UInt16>
        /// As written in the file, for log lines an operator can find in it.
        public let text: String

        public init(parsing text: String) throws(GrammarError) {
            self.text = text
            guard let (hostText, bracketed, portText) = splitHostPort(text) else {
                guard !text.contains(":"), !text.contains("["), isServiceName(text) else {
                    throw GrammarError("not a service name ([a-z0-9][a-z0-9_-]{0,62}) or host:port (IPv6 in brackets): \(text)")
                }
                host = .service(text)
                ports = 1...65535
                return
            }
            guard let ports = TargetPattern.parsePorts(portText) else {
                throw GrammarError("port must be 1...65535, lo-hi or *: \(text)")
            }
            self.ports = ports
            if hostText.contains("/") {
                guard let cidr = CIDR(parsing: String(hostText)), bracketed == (cidr.network.count == 16) else {
                    throw GrammarError("not a CIDR network (IPv6 in brackets): \(text)")
                }
                host = .network(cidr)
                return
            }
            switch canonicalHost(String(hostText)) {
            case .ip(let ip)? where bracketed == hostText.contains(":"): host = .ip(ip)
            case .name(let name)? where !bracketed: host = .name(name)
            default: throw GrammarError("not an IP address, network or DNS name: \(text)")
            }
        }

        /// A rule's target, whose service (if it names one) must be in `services`: a misspelt
        /// service name would make an allow rule allow nothing, or a deny rule deny nothing.
        public init(parsing text: String, services: [String: String]) throws(GrammarError) {
            try self.init(parsing: text)
            if case .service(let name) = host, services[name] == nil {
                throw GrammarError("no service \"\(name)\" in [services]")
            }
        }

        /// `*`, `lo-hi` or a port, all within 1...65535.
        static func parsePorts(_ s: Substring) -> ClosedRange<UInt16>? {
            if s == "*" { return 1...65535 }
            let bounds = s.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let lo = parsePort(bounds[0]) else { return nil }
            guard bounds.count == 2 else { return lo...lo }
            guard let hi = parsePort(bounds[1]), lo <= hi else { return nil }
            return lo...hi
        }

        public var description: String { text }
    }

    /// A forward's `target`: a service name of the exit, or `host:port`.
    static func forwardTargetProblem(_ text: String) -> String? {
        if !text.contains(":") && !text.contains("[") {
            return isServiceName(text) ? nil : "not a service name ([a-z0-9][a-z0-9_-]{0,62}) or host:port: \(text)"
        }
        do { _ = try parseEndpoint(text); return nil } catch { return error.message }
    }
}
