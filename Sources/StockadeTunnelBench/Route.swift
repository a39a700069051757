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
    /// (required for direct and socks5; a forward's target is fixed by the tunnel).
    init(via: String, target: String?) throws {
        func endpoint(_ s: String) throws -> SocketAddress {
            guard let (host, port) = splitHostPort(s), let a = SocketAddress(ip: host, port: port) else {
                throw BenchError("not an IP:PORT: \(s)")
            }
            return a
        }
        if via == "direct" {
            guard let t = target else { throw BenchError("--via direct needs --target IP:PORT") }
            self = .direct(try endpoint(t))
        } else if via.hasPrefix("socks5://") {
            guard let t = target, let (host, port) = splitHostPort(t) else {
                throw BenchError("--via socks5://… needs --target HOST:PORT")
            }
            self = .socks5(proxy: try endpoint(String(via.dropFirst("socks5://".count))), host: host, port: port)
        } else if via.hasPrefix("forward://") {
            self = .forward(try endpoint(String(via.dropFirst("forward://".count))))
        } else {
            throw BenchError("--via must be direct, socks5://IP:PORT or forward://IP:PORT, not \(via)")
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
        let fd: Int32
        do {
            fd = try TCPSocket.connect(to: address, timeoutMilliseconds: Int32(timeoutMilliseconds))
        } catch {
            throw BenchError("\(error)")
        }
        let stream = Stream(fd: fd, timeoutMilliseconds: timeoutMilliseconds)
        if case .socks5(_, let host, let port) = self {
            try Route.socks5Connect(stream, host: host, port: port)
        }
        return stream
    }

    /// RFC 1928: no-auth greeting, then CONNECT with the IPv4 address type for an IPv4 literal
    /// and the domain type otherwise (curl's --socks5-hostname: the name travels to the exit).
    static func socks5Connect(_ s: Stream, host: String, port: UInt16) throws {
        try s.write([0x05, 0x01, 0x00])
        let method = try s.readExactly(2)
        guard method == [0x05, 0x00] else { throw BenchError("SOCKS5 greeting refused: \(method)") }
        var request: [UInt8] = [0x05, 0x01, 0x00]
        if let v4 = SocketAddress(ip: host, port: port), v4.ipBytes.count == 4 {
            request += [0x01] + v4.ipBytes
        } else {
            let name = Array(host.utf8)
            guard (1...255).contains(name.count) else { throw BenchError("SOCKS5 name length \(name.count)") }
            request += [0x03, UInt8(name.count)] + name
        }
        request += [UInt8(port >> 8), UInt8(port & 0xff)]
        try s.write(request)
        let head = try s.readExactly(4)
        guard head[0] == 0x05, head[1] == 0x00 else { throw BenchError("SOCKS5 CONNECT reply code \(head[1])") }
        let rest: Int
        switch head[3] {
        case 0x01: rest = 4
        case 0x04: rest = 16
        case 0x03: rest = Int(try s.readExactly(1)[0])
        default: throw BenchError("SOCKS5 reply address type \(head[3])")
        }
        _ = try s.readExactly(rest + 2)
    }
}

/// "HOST:PORT" (the last colon splits, so a bracketed IPv6 literal works too).
func splitHostPort(_ s: String) -> (String, UInt16)? {
    guard let colon = s.lastIndex(of: ":"), let port = UInt16(s[s.index(after: colon)...]) else { return nil }
    var host = String(s[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return host.isEmpty ? nil : (host, port)
}
