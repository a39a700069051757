#if canImport(Glibc)
import Glibc
#endif
import Sockets

/// The UDP commands' routes: the same three as the TCP ones', for datagrams. Through SOCKS5 a
/// UDP association (RFC 1928 section 7: each datagram carries `00 00 00 atyp addr port` before
/// its data, sent to the relay address of the UDP ASSOCIATE reply); through a UDP forward the
/// listener is the target.
extension Route {
    /// `direct`, `socks5udp://IP:PORT` or `udpforward://IP:PORT`, with `--target HOST:PORT`
    /// (required for direct and socks5udp).
    init(udpVia via: String, target: String?) throws {
        try self.init(via: via, target: target, socks5Scheme: "socks5udp://", forwardScheme: "udpforward://")
    }

    var udpDescription: String {
        switch self {
        case .direct: return "direct"
        case .socks5: return "socks5udp"
        case .forward: return "udpforward"
        }
    }

    /// A UDP socket on 127.0.0.1 connected to the first hop (for socks5, after the association is
    /// set up on its own TCP connection, which the socket keeps open). Datagrams carry `size`
    /// bytes of payload.
    func openDatagrams(size: Int, timeoutMilliseconds: Int) throws -> Datagrams {
        let local = try Datagrams.boundSocket()
        do {
            switch self {
            case .direct(let a), .forward(let a):
                try Datagrams.connect(local, to: a)
                return Datagrams(fd: local, control: nil, header: [], size: size)
            case .socks5(let proxy, let host, let port):
                let control = try Route.connect(to: proxy, timeoutMilliseconds: timeoutMilliseconds)
                // The request names the address the datagrams will come from (this socket's).
                guard let me = SocketAddress.local(of: local) else { throw BenchError("getsockname") }
                let relay = try Route.socks5Request(control, command: 0x03, host: me.ipString, port: me.port)
                // An unspecified relay address means the proxy's own (RFC 1928 leaves it open).
                var ip = proxy.ipBytes
                if let bound = relay.ip, bound.contains(where: { $0 != 0 }) { ip = bound }
                guard let relayAddress = SocketAddress(ipBytes: ip, port: relay.port) else { throw BenchError("relay address") }
                try Datagrams.connect(local, to: relayAddress)
                let header = [0x00, 0x00, 0x00] + (try Route.socks5Address(host: host, port: port))
                return Datagrams(fd: local, control: control, header: header, size: size)
            }
        } catch {
            close(local)
            throw error
        }
    }
}

/// One client UDP socket (and a SOCKS5 association's control connection): numbered datagrams of
/// a fixed size out, the numbers of the replies in. The first 8 payload bytes are the number.
/// One thread may send while another receives (each has its own buffer); no more than that.
final class Datagrams: @unchecked Sendable {
    let fd: Int32
    private let control: Stream?
    private let headerBytes: Int
    private var outgoing: [UInt8]
    private var incoming: [UInt8]
    private var closed = false

    /// What sendto/recv may be asked to hold: more than any datagram of the benchmark.
    static let socketBufferBytes: Int32 = 4 << 20

    init(fd: Int32, control: Stream?, header: [UInt8], size: Int) {
        self.fd = fd
        self.control = control
        headerBytes = header.count
        outgoing = header + [UInt8](repeating: 0x55, count: max(8, size))
        incoming = [UInt8](repeating: 0, count: 65_536)
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
        control?.close()
    }

    /// A blocking UDP socket bound to 127.0.0.1 (any port), with large buffers.
    static func boundSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
        var bytes = socketBufferBytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        guard let any = SocketAddress(ip: "127.0.0.1", port: 0),
              any.withSockaddr({ bind(fd, $0, $1) }) == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(fd)
            throw BenchError("bind UDP: \(why)")
        }
        return fd
    }

    static func connect(_ fd: Int32, to address: SocketAddress) throws {
        guard address.withSockaddr({ Glibc.connect(fd, $0, $1) }) == 0 else {
            throw BenchError("connect UDP to \(address): \(String(cString: strerror(errno)))")
        }
    }

    /// Sends datagram number `seq`; false when the kernel refused it (a full buffer, an ICMP
    /// error from an earlier datagram): UDP's loss, counted by the caller.
    func send(_ seq: UInt64) -> Bool {
        for i in 0..<8 { outgoing[headerBytes + i] = UInt8(truncatingIfNeeded: seq >> (56 - 8 * UInt64(i))) }
        while true {
            let n = outgoing.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n >= 0 { return true }
            if errno != EINTR { return false }
        }
    }

    /// The number of the next reply within `timeoutMilliseconds`; nil when none came (or the
    /// one that came is too short to carry a number).
    func receive(timeoutMilliseconds: Int) -> UInt64? {
        guard TCPSocket.waitFor(fd, events: Int16(POLLIN), timeoutMilliseconds: Int32(max(0, timeoutMilliseconds))) else { return nil }
        let n = incoming.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard n > 0 else { return nil }
        let start = headerBytes == 0 ? 0 : Self.socks5PayloadOffset(incoming, count: n)
        guard let start, start + 8 <= n else { return nil }
        return incoming[start..<start + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// Where the data of a SOCKS5 UDP reply starts (after `00 00 frag atyp addr port`).
    static func socks5PayloadOffset(_ d: [UInt8], count: Int) -> Int? {
        guard count >= 4 else { return nil }
        switch d[3] {
        case 0x01: return 4 + 4 + 2
        case 0x04: return 4 + 16 + 2
        case 0x03: return count >= 5 ? 5 + Int(d[4]) + 2 : nil
        default: return nil
        }
    }
}
