/// go-ethereum's netutil.IsLAN: loopback and the private/link-local ranges. The inbound
/// throttle spares these (a LAN peer reconnecting quickly is not an attack).
public enum LANAddresses {
    static let ranges: [CIDR] = [
        "0.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
        "::1/128", "fe80::/10", "fc00::/7",
    ].compactMap(CIDR.init(parsing:))

    public static func contains(_ ip: String) -> Bool { ranges.contains { $0.contains(ip: ip) } }
}
