import IPC
import NodeConfig
import Sockets

/// Which of systemd's listening sockets serve which listener (README "systemd"):
///
/// 1. FileDescriptorName=`devp2p`: the devp2p listener (the acceptor's).
/// 2. `socks5`: the SOCKS5 entry (`[socks5] default_exit` still applies; `listen` may be empty).
/// 3. `forward-<port>`: the `[[forward]]` whose `listen` has that port (if several do, the one
///    whose address is the socket's).
/// 4. Any other name (a socket unit without FileDescriptorName= is named after the unit): by
///    the socket's local address (getsockname), the `[[forward]]` or `[socks5]` listening
///    there; otherwise devp2p, as every inherited socket was before the entries could be.
///
/// An entry socket that matches no configured entry is not served, and said so.
enum EntrySockets {
    struct Inherited {
        var fd: Int32
        var name: String
        var address: SocketAddress?
    }

    struct Entry: Equatable {
        var kind: IPCMessage.EntryListener.Kind
        /// The `[[forward]] listen` it serves; for socks5 the socket's address.
        var listen: String
        var fd: Int32
    }

    struct Assignment {
        var devp2p: [Int32] = []
        var entries: [Entry] = []
        /// Entry sockets no configured entry wants: (fd, why).
        var unmatched: [(fd: Int32, why: String)] = []
    }

    static func assign(_ sockets: [Inherited], socks5: NodeConfig.Socks5, forwards: [NodeConfig.Forward]) -> Assignment {
        var out = Assignment()
        let forwardAddresses = forwards.map { (forward: $0, address: address($0.listen)) }
        let socksAddress = address(socks5.listen)
        for s in sockets {
            let shown = s.address?.description ?? "?"
            if s.name == "devp2p" {
                out.devp2p.append(s.fd)
            } else if s.name == "socks5" {
                out.entries.append(Entry(kind: .socks5, listen: shown, fd: s.fd))
            } else if s.name.hasPrefix("forward-") {
                let port = UInt16(s.name.dropFirst("forward-".count))
                let candidates = forwardAddresses.filter { port != nil && $0.address?.port == port }
                let chosen = candidates.count == 1 ? candidates.first : candidates.first { $0.address == s.address }
                if let chosen {
                    out.entries.append(Entry(kind: .forward, listen: chosen.forward.listen, fd: s.fd))
                } else {
                    out.unmatched.append((s.fd, "socket \(s.name) (\(shown)) matches no [[forward]] listen port"
                                          + (candidates.count > 1 ? " uniquely (several have it; none is on \(shown))" : "")))
                }
            } else if let a = s.address, let f = forwardAddresses.first(where: { $0.address == a }) {
                out.entries.append(Entry(kind: .forward, listen: f.forward.listen, fd: s.fd))
            } else if let a = s.address, a == socksAddress {
                out.entries.append(Entry(kind: .socks5, listen: shown, fd: s.fd))
            } else {
                out.devp2p.append(s.fd)
            }
        }
        // Two sockets for one entry: the first serves, the others are not used.
        var seen = Set<String>()
        out.entries = out.entries.filter { e in
            let key = e.kind == .socks5 ? "socks5" : "forward \(e.listen)"
            if seen.insert(key).inserted { return true }
            out.unmatched.append((e.fd, "a second socket for the \(key) entry"))
            return false
        }
        return out
    }

    private static func address(_ text: String) -> SocketAddress? {
        HostPort.parse(text).flatMap { SocketAddress(ip: $0.ip, port: $0.port) }
    }
}
