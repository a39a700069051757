import NodeConfig

/// The acceptor's address checks before a connection costs a handshake: go-ethereum's
/// listenLoop/checkInboundConn (NetRestrict allowlist).
struct InboundAdmission {
    let netrestrict: [CIDR]

    /// Why `ip` may not connect, or nil.
    func refusal(for ip: String) -> String? {
        if !netrestrict.isEmpty && !netrestrict.contains(where: { $0.contains(ip: ip) }) {
            return "not in netrestrict"
        }
        return nil
    }
}
