/// An enode URL (devp2p, go-ethereum `p2p/enode/urlv4.go`):
///
///     enode://<128 hex node ID>@<ip>:<tcp port>[?discport=<udp port>]
///
/// IPv6 hosts are bracketed. Without `@host:port` the node is incomplete (ID only), which
/// go-ethereum also accepts, as it does a bare 128-hex ID with no scheme.
public struct EnodeURL: Hashable, Sendable, CustomStringConvertible {
    public var nodeID: NodeID
    /// nil for an incomplete node (ID only).
    public var ip: IPAddress?
    public var tcpPort: UInt16
    /// The discovery (UDP) port; equal to `tcpPort` unless `discport` says otherwise.
    public var udpPort: UInt16

    public init(nodeID: NodeID, ip: IPAddress?, tcpPort: UInt16, udpPort: UInt16? = nil) {
        self.nodeID = nodeID
        self.ip = ip
        self.tcpPort = ip == nil ? 0 : tcpPort
        self.udpPort = ip == nil ? 0 : (udpPort ?? tcpPort)
    }

    public var isIncomplete: Bool { ip == nil }

    /// Parses the text form. Only IP literals are accepted as hosts (see `EnodeError.invalidHost`);
    /// query parameters other than discport are ignored, as go-ethereum's `url.Query()` does.
    public init(parsing text: String) throws(EnodeError) {
        let scheme = "enode://"
        let rest: Substring
        if text.utf8.count >= scheme.utf8.count,
           text.utf8.prefix(scheme.utf8.count).elementsEqual(scheme.utf8, by: { asciiLower($0) == $1 }) {
            rest = text.dropFirst(scheme.count)
        } else if let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") {
            let name = text[..<colon]
            if name.isEmpty { throw .missingScheme }
            throw .invalidScheme(String(name))
        } else if !text.isEmpty && text.utf8.allSatisfy(isHexDigit) {
            // go-ethereum's ParseV4 accepts `(?i)^(?:enode://)?([0-9a-f]+)$`: a bare ID is an incomplete node.
            self.init(nodeID: try NodeID(hex: text), ip: nil, tcpPort: 0)
            return
        } else {
            throw .missingScheme
        }

        guard let at = rest.firstIndex(of: "@") else {
            // enode://<id>: incomplete node.
            self.init(nodeID: try NodeID(hex: String(rest)), ip: nil, tcpPort: 0)
            return
        }
        let id = try NodeID(hex: String(rest[..<at]))

        var hostPort = rest[rest.index(after: at)...]
        var query: Substring = ""
        if let q = hostPort.firstIndex(of: "?") {
            query = hostPort[hostPort.index(after: q)...]
            hostPort = hostPort[..<q]
        }

        let host: Substring, port: Substring
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw .invalidHost(String(hostPort)) }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            guard after.hasPrefix(":") else { throw .invalidPort(String(after)) }
            port = after.dropFirst()
        } else {
            guard let colon = hostPort.lastIndex(of: ":") else { throw .invalidPort("") }
            host = hostPort[..<colon]
            // An unbracketed IPv6 literal would have colons left in the host part.
            if host.contains(":") { throw .invalidHost(String(hostPort)) }
            port = hostPort[hostPort.index(after: colon)...]
        }
        guard let ip = IPAddress(String(host)) else { throw .invalidHost(String(host)) }
        guard let tcp = parsePort(port) else { throw .invalidPort(String(port)) }

        var udp = tcp
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv[0] == "discport" else { continue }
            let value = kv.count > 1 ? kv[1] : ""
            guard let p = parsePort(value) else { throw .invalidDiscoveryPort(String(value)) }
            udp = p
        }
        self.init(nodeID: id, ip: ip, tcpPort: tcp, udpPort: udp)
    }

    /// go-ethereum's `URLv4()` form: `enode://<id>` when incomplete, otherwise
    /// `enode://<id>@<ip>:<tcp>` plus `?discport=<udp>` when the ports differ.
    public var description: String {
        guard let ip else { return "enode://" + nodeID.hex }
        let host = ip.isIPv4 ? ip.description : "[\(ip)]"
        var out = "enode://\(nodeID.hex)@\(host):\(tcpPort)"
        if udpPort != tcpPort { out += "?discport=\(udpPort)" }
        return out
    }
}

/// Decimal 0...65535 with at most 5 digits (go's ParseUint(s, 10, 16); no sign, no spaces).
private func parsePort(_ text: Substring) -> UInt16? {
    guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return UInt16(text)
}

private func isHexDigit(_ c: UInt8) -> Bool {
    (0x30...0x39).contains(c) || (0x61...0x66).contains(c) || (0x41...0x46).contains(c)
}

private func asciiLower(_ c: UInt8) -> UInt8 {
    (0x41...0x5a).contains(c) ? c + 0x20 : c
}
