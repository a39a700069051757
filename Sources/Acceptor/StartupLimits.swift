import Enode

/// What keeps silent or slow connections from taking every handshake slot (issue 9, fault 9):
/// - OpenSSH's MaxStartups random early drop, 10:30:100 scaled to max_pending: from a tenth of
///   the slots in use, a new untrusted connection is dropped with a chance of 30 % rising
///   linearly to 100 % when every slot is taken, so a flood thins itself out while an honest
///   dialer that retries still gets through;
/// - a per-network pending limit, OpenSSH's PerSourceMaxStartups counted per
///   PerSourceNetBlockSize 24:64 (a /24 for IPv4, a /64 for IPv6): one network cannot hold
///   more than its share of the slots however many addresses it has.
/// The worker's first-bytes deadline does the rest: a silent connection's slot comes back
/// within seconds. Pure; the caller gives the dice.
enum StartupLimits {
    /// MaxStartups "start" as a fraction of "full": 10 of 100.
    static let startDivisor = 10
    /// MaxStartups "rate": the drop chance at "start".
    static let initialDropRate = 0.3
    /// PerSourceNetBlockSize 24:64, in bytes of the address.
    static let ipv4PrefixBytes = 3
    static let ipv6PrefixBytes = 8

    /// The network an address belongs to for the per-network limit: its /24 or /64.
    static func network(of ip: String) -> [UInt8]? {
        guard let address = IPAddress(ip) else { return nil }
        return Array(address.bytes.prefix(address.bytes.count == 4 ? ipv4PrefixBytes : ipv6PrefixBytes))
    }

    /// MaxStartups' drop chance with `pending` of `maxPending` slots in use (0 below start).
    static func dropChance(pending: Int, maxPending: Int) -> Double {
        let start = max(1, maxPending / startDivisor)
        guard pending >= start else { return 0 }
        guard maxPending > start else { return 1 }
        let span = Double(maxPending - start)
        return min(1, initialDropRate + (1 - initialDropRate) * Double(pending - start) / span)
    }
}
