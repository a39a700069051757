#if canImport(Glibc)
import Glibc
#endif
import Sockets

/// How a client session reaches the source: straight to it, through a SOCKS5 entry (the target
/// travels in the CONNECT request), or through a local forward (the listener is the target).
enum Route: CustomStringConvertible {
    case direct(SocketAddress)
    case socks5(proxy: SocketAddress, host: String, port: UInt16)
    case forward(SocketAddress)

    /// `direct`, `socks5://IP:PORT` or `forward://IP:PORT`, with `--target HOST:PORT`
    /// (required for direct and socks5; a forward's target is fixed by the tunnel). The UDP
    /// commands name the same routes `socks5udp://` and `udpforward://`.
    init(via: String, target: String?, socks5Scheme: String = "socks5://", forwardScheme: String = "forward://") throws {
        if via == "direct" {
            guard let t = target else { throw BenchError("--via direct needs --target IP:PORT") }
            self = .direct(try endpoint(t))
        } else if via.hasPrefix(socks5Scheme) {
            guard let t = target, let (host, port) = splitHostPort(t) else {
                throw BenchError("--via \(socks5Scheme)… needs --target HOST:PORT")
            }
            self = .socks5(proxy: try endpoint(String(via.dropFirst(socks5Scheme.count))), host: host, port: port)
        } else if via.hasPrefix(forwardScheme) {
            self = .forward(try endpoint(String(via.dropFirst(forwardScheme.count))))
        } else {
            throw BenchError("--via must be direct, \(socks5Scheme)IP:PORT or \(forwardScheme)IP:PORT, not \(via)")
        }
    }

    var description: String {
        switch self {
        case .direct: return "direct"
        case .socks5: return "socks5"
        case .forward: return "forward"
        }
    }

    /// A session to the source, ready for the command byte: TCP connect, plus the SOCKS5
    /// greeting and CONNECT for the socks5 route. Every step is bounded by `timeoutMilliseconds`.
    func open(timeoutMilliseconds: Int) throws -> Stream {
        let address: SocketAddress
        switch self {
        case .direct(let a), .forward(let a): address = a
        case .socks5(let proxy, _, _): address = proxy
        }
        let stream = try Route.connect(to: address, timeoutMilliseconds: timeoutMilliseconds)
        if case .socks5(_, let host, let port) = self {
            try Route.socks5Connect(stream, host: host, port: port)
        }
        return stream
    }

    /// A TCP connection whose connect, reads and writes are bounded by `timeoutMilliseconds`.
    static func connect(to address: SocketAddress, timeoutMilliseconds: Int) throws -> Stream {
        let fd: Int32
        do {
            fd = try TCPSocket.connect(to: address, timeoutMilliseconds: Int32(timeoutMilliseconds))
        } catch {
            throw BenchError("\(error)")
        }
        return Stream(fd: fd, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// RFC 1928: no-auth greeting, then CONNECT with the IPv4 address type for an IPv4 literal
    /// and the domain type otherwise (curl's --socks5-hostname: the name travels to the exit).
    static func socks5Connect(_ s: Stream, host: String, port: UInt16) throws {
        _ = try socks5Request(s, command: 0x01, host: host, port: port)
    }

    /// The no-auth greeting, then one request (CONNECT 1, UDP ASSOCIATE 3); returns the reply's
    /// bound address (`ip` nil when it is a name) and port.
    static func socks5Request(_ s: Stream, command: UInt8, host: String, port: UInt16) throws -> (ip: [UInt8]?, port: UInt16) {
        try s.write([0x05, 0x01, 0x00])
        let method = try s.readExactly(2)
        guard method == [0x05, 0x00] else { throw BenchError("SOCKS5 greeting refused: \(method)") }
        try s.write([0x05, command, 0x00] + (try socks5Address(host: host, port: port)))
        let head = try s.readExactly(4)
        guard head[0] == 0x05, head[1] == 0x00 else { throw BenchError("SOCKS5 command \(command) reply code \(head[1])") }
        let rest: Int
        switch head[3] {
        case 0x01: rest = 4
        case 0x04: rest = 16
        case 0x03: rest = Int(try s.readExactly(1)[0])
        default: throw BenchError("SOCKS5 reply address type \(head[3])")
        }
        let bound = try s.readExactly(rest + 2)
        return (head[3] == 0x03 ? nil : Array(bound[0..<rest]), UInt16(bound[rest]) << 8 | UInt16(bound[rest + 1]))
    }

    /// `atyp addr port` as RFC 1928 writes an address in requests and UDP headers.
    static func socks5Address(host: String, port: UInt16) throws -> [UInt8] {
        var out: [UInt8]
        if let ip = SocketAddress(ip: host, port: port) {
            out = [ip.ipBytes.count == 4 ? 0x01 : 0x04] + ip.ipBytes
        } else {
            let name = Array(host.utf8)
            guard (1...255).contains(name.count) else { throw BenchError("SOCKS5 name length \(name.count)") }
            out = [0x03, UInt8(name.count)] + name
        }
        return out + [UInt8(port >> 8), UInt8(port & 0xff)]
    }
}

/// An `IP:PORT` literal; `what` names it in the error.
func endpoint(_ text: String, _ what: String = "address") throws -> SocketAddress {
    guard let (host, port) = splitHostPort(text), let address = SocketAddress(ip: host, port: port) else {
        throw BenchError("\(what) wants IP:PORT, not \(text)")
    }
    return address
}

/// "HOST:PORT" (the last colon splits, so a bracketed IPv6 literal works too).
func splitHostPort(_ s: String) -> (String, UInt16)? {
    guard let colon = s.lastIndex(of: ":"), let port = UInt16(s[s.index(after: colon)...]) else { return nil }
    var host = String(s[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return host.isEmpty ? nil : (host, port)
}
