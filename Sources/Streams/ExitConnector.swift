#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Enode
import Mux
import NIOCore
import NIOPosix

/// The exit side's way to a target: resolve a name once, off the event loop (getaddrinfo
/// blocks), then connect to the allowed addresses in order, asynchronously and under the
/// connect deadline, so a target that never answers costs only its own session.
enum ExitConnector {
    /// Resolves `name` on a global dispatch queue; `done` runs on `loop` with the addresses
    /// (empty when the name does not resolve).
    static func resolve(_ name: String, on loop: EventLoop, done: @escaping ([IPAddress]) -> Void) {
        DispatchQueue.global().async {
            let addresses = lookup(name)
            loop.execute { done(addresses) }
        }
    }

    /// getaddrinfo for TCP, in the resolver's order, duplicates removed.
    static func lookup(_ name: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var out: [IPAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            if let sa = n.pointee.ai_addr {
                var ip: IPAddress?
                if n.pointee.ai_family == AF_INET {
                    ip = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                        withUnsafeBytes(of: p.pointee.sin_addr) { IPAddress(bytes: Array($0)) }
                    }
                } else if n.pointee.ai_family == AF_INET6 {
                    ip = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                        withUnsafeBytes(of: p.pointee.sin6_addr) { IPAddress(bytes: Array($0)) }
                    }
                }
                if let ip, !out.contains(ip) { out.append(ip) }
            }
            node = n.pointee.ai_next
        }
        return out
    }

    /// Connects to the first of `addresses` that answers before `deadline`; `done` runs on
    /// `loop` with a connected channel (not yet reading) or the failure of the last attempt.
    static func connect(_ addresses: [IPAddress], port: UInt16, on loop: EventLoop, deadline: NIODeadline,
                        done: @escaping (Result<Channel, MuxErrorCode>) -> Void) {
        guard let ip = addresses.first else {
            done(.failure(.hostUnreachable))
            return
        }
        let remaining = deadline - .now()
        guard remaining > .zero else {
            done(.failure(.timedOut))
            return
        }
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: ip.description, port: Int(port))
        } catch {
            done(.failure(.addressNotSupported))
            return
        }
        ClientBootstrap(group: loop)
            .connectTimeout(remaining)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.autoRead, value: false)
            .connect(to: address)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    done(.success(channel))
                case .failure(let error):
                    let code = Self.code(for: error)
                    if addresses.count > 1 && code != .timedOut {
                        connect(Array(addresses.dropFirst()), port: port, on: loop, deadline: deadline, done: done)
                    } else {
                        done(.failure(code))
                    }
                }
            }
    }

    /// A connect failure as the Mux error code (and so the SOCKS5 reply) the opener gets.
    static func code(for error: Error) -> MuxErrorCode {
        if let e = error as? ChannelError, case .connectTimeout = e { return .timedOut }
        if let e = error as? IOError {
            switch e.errnoCode {
            case ECONNREFUSED: return .connectionRefused
            case ENETUNREACH: return .networkUnreachable
            case EHOSTUNREACH, EADDRNOTAVAIL: return .hostUnreachable
            case ETIMEDOUT: return .timedOut
            default: return .generalFailure
            }
        }
        return .generalFailure
    }
}
