/// Why an enode URL, node ID or node key file was refused.
public enum EnodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Neither `enode://` nor a bare hex node ID (go-ethereum: "missing protocol scheme" / errMissingPrefix).
    case missingScheme
    /// A scheme other than enode (go-ethereum: `invalid URL scheme, want "enode"`).
    case invalidScheme(String)
    /// The node ID is not 128 hex characters (go-ethereum: "wrong length, want 128 hex chars").
    case nodeIDWrongLength(Int)
    /// The node ID has a non-hex character.
    case nodeIDNotHex
    /// The 64 bytes are not a point on secp256k1.
    case nodeIDNotOnCurve
    /// The host is not an IPv4 or IPv6 literal. Host names are refused deliberately: resolving
    /// them is I/O and belongs to the dialer, not to a parser.
    case invalidHost(String)
    /// The TCP port is missing or not a decimal number in 0...65535.
    case invalidPort(String)
    /// The discport query value is not a decimal number in 0...65535.
    case invalidDiscoveryPort(String)

    public var description: String {
        switch self {
        case .missingScheme: return "enode: missing \"enode://\" prefix"
        case .invalidScheme(let s): return "enode: invalid URL scheme \"\(s)\", want \"enode\""
        case .nodeIDWrongLength(let n): return "enode: node ID has \(n) hex characters, want 128"
        case .nodeIDNotHex: return "enode: node ID is not hexadecimal"
        case .nodeIDNotOnCurve: return "enode: node ID is not a valid secp256k1 public key"
        case .invalidHost(let h): return "enode: invalid IP address \"\(h)\""
        case .invalidPort(let p): return "enode: invalid port \"\(p)\""
        case .invalidDiscoveryPort(let p): return "enode: invalid discport in query \"\(p)\""
        }
    }
}
