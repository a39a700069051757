// The values of a SOCKS Protocol Version 5 exchange (RFC 1928), server side.
// Pure: no I/O, no dependencies. `SOCKS5ServerHandshake` reads a client's greeting and request;
// `SOCKS5ServerHandshake.reply(_:bound:port:)` writes the server's reply.

/// The REP field of a reply (RFC 1928 §6).
public enum SOCKS5ReplyCode: UInt8, Sendable, CustomStringConvertible {
    case succeeded = 0
    case generalFailure
    case notAllowed
    case networkUnreachable
    case hostUnreachable
    case connectionRefused
    case ttlExpired
    case commandNotSupported
    case addressTypeNotSupported

    /// RFC 1928 §6's wording.
    public var description: String {
        switch self {
        case .succeeded: "succeeded"
        case .generalFailure: "general SOCKS server failure"
        case .notAllowed: "connection not allowed by ruleset"
        case .networkUnreachable: "network unreachable"
        case .hostUnreachable: "host unreachable"
        case .connectionRefused: "connection refused"
        case .ttlExpired: "TTL expired"
        case .commandNotSupported: "command not supported"
        case .addressTypeNotSupported: "address type not supported"
        }
    }
}

/// The CMD field of a request (RFC 1928 §4).
public enum SOCKS5Command: UInt8, Sendable, CustomStringConvertible {
    case connect = 1
    case bind = 2
    case udpAssociate = 3

    public var description: String {
        switch self {
        case .connect: "CONNECT"
        case .bind: "BIND"
        case .udpAssociate: "UDP ASSOCIATE"
        }
    }
}

/// DST.ADDR of a request or BND.ADDR of a reply (RFC 1928 §5), by its ATYP.
public enum SOCKS5Address: Equatable, Sendable {
    /// ATYP 01: 4 bytes, network order.
    case ipv4([UInt8])
    /// ATYP 04: 16 bytes, network order.
    case ipv6([UInt8])
    /// ATYP 03: the name as the client sent it, 1...255 bytes, each printable ASCII (0x21...0x7e);
    /// not resolved, not lower-cased, not checked further (a caller's resolver or rules decide).
    case domain(String)

    /// The ATYP byte (RFC 1928 §4).
    public var addressType: UInt8 {
        switch self {
        case .ipv4: 0x01
        case .domain: 0x03
        case .ipv6: 0x04
        }
    }
}

/// A client's request (RFC 1928 §4) that passed every check: the command is one the server
/// carries out, the address is well-formed. The port may be 0: whether that is acceptable is the
/// caller's decision (for UDP ASSOCIATE, RFC 1928 §7 allows an unknown client port as 0).
public struct SOCKS5Request: Equatable, Sendable {
    public var command: SOCKS5Command
    public var address: SOCKS5Address
    public var port: UInt16

    public init(command: SOCKS5Command, address: SOCKS5Address, port: UInt16) {
        self.command = command
        self.address = address
        self.port = port
    }
}
