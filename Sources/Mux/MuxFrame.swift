/// One Mux.Cool frame (v2fly/v2ray-core `common/mux/frame.go`), the unit of the `stk/1`
/// capability's Frames message (ipc/MUX.md):
///
///     metadata length L (2 bytes, big-endian, at most 512)
///     metadata: session ID (2) | status (1) | option (1) | New: network (1) port (2) address-type (1) address
///               | End with Error: error code (1, a Stockade extension v2ray's reader skips)
///     with option Data: data length (2) | data
public struct MuxFrame: Equatable, Sendable {
    public var sessionID: UInt16
    public var status: MuxSessionStatus
    public var options: MuxOptions
    /// On New: where the session goes. On a Keep of a UDP session: the datagram's address
    /// (ipc/MUX.md "UDP sessions"); nil means the session's target.
    public var target: MuxTarget?
    /// Only on End with the Error option; `nil` there means the peer gave no code (v2ray).
    public var errorCode: MuxErrorCode?
    /// The payload of a frame with the Data option (empty otherwise).
    public var data: [UInt8]

    public init(sessionID: UInt16, status: MuxSessionStatus, options: MuxOptions = [], target: MuxTarget? = nil,
                errorCode: MuxErrorCode? = nil, data: [UInt8] = []) {
        self.sessionID = sessionID
        self.status = status
        self.options = options
        self.target = target
        self.errorCode = errorCode
        self.data = data
    }

    public static func new(_ id: UInt16, target: MuxTarget, data: [UInt8] = []) -> MuxFrame {
        MuxFrame(sessionID: id, status: .new, options: data.isEmpty ? [] : .data, target: target, data: data)
    }

    public static func keep(_ id: UInt16, data: [UInt8] = [], fin: Bool = false, address: MuxTarget? = nil) -> MuxFrame {
        var options: MuxOptions = data.isEmpty ? [] : .data
        if fin { options.insert(.fin) }
        return MuxFrame(sessionID: id, status: .keep, options: options, target: address, data: data)
    }

    public static func end(_ id: UInt16, error: MuxErrorCode? = nil) -> MuxFrame {
        MuxFrame(sessionID: id, status: .end, options: error == nil ? [] : .error, errorCode: error)
    }
}

/// Mux.Cool's session status byte.
public enum MuxSessionStatus: UInt8, Sendable {
    case new = 0x01
    case keep = 0x02
    case end = 0x03
    case keepAlive = 0x04
}

/// Mux.Cool's option bits. Data and Error are v2ray's; Fin is Stockade's half-close (the
/// sender's direction is finished, as SSH_MSG_CHANNEL_EOF), which v2ray's reader ignores.
public struct MuxOptions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let data = MuxOptions(rawValue: 0x01)
    public static let error = MuxOptions(rawValue: 0x02)
    public static let fin = MuxOptions(rawValue: 0x04)
}

/// Mux.Cool's network byte in New.
public enum MuxNetwork: UInt8, Sendable {
    case tcp = 0x01
    case udp = 0x02
}

/// A New frame's address (Mux.Cool's address types: 0x01 IPv4, 0x02 domain, 0x03 IPv6).
public enum MuxAddress: Hashable, Sendable, CustomStringConvertible {
    case ipv4([UInt8])
    case domain(String)
    case ipv6([UInt8])

    public var description: String {
        switch self {
        case .ipv4(let b): return b.map(String.init).joined(separator: ".")
        case .domain(let d): return d
        case .ipv6(let b):
            guard b.count == 16 else { return "<IPv6 of \(b.count) bytes>" }
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        }
    }
}

/// Where a New frame asks to go. A domain with port 0 names a service of the exit's
/// `[services]` (Stockade's convention; port 0 is never a TCP destination).
public struct MuxTarget: Hashable, Sendable, CustomStringConvertible {
    public var network: MuxNetwork
    public var address: MuxAddress
    public var port: UInt16

    public init(network: MuxNetwork = .tcp, address: MuxAddress, port: UInt16) {
        self.network = network
        self.address = address
        self.port = port
    }

    public static func service(_ name: String) -> MuxTarget { MuxTarget(address: .domain(name), port: 0) }

    /// Whether a New frame can carry this target as it is: 4 bytes of IPv4, 16 of IPv6, a
    /// domain of 1...255 bytes of UTF-8 (the 1-byte length; v2ray writes 256 bytes as 0).
    public var isEncodable: Bool {
        switch address {
        case .ipv4(let b): return b.count == 4
        case .ipv6(let b): return b.count == 16
        case .domain(let d): return (1...255).contains(d.utf8.count)
        }
    }

    public var isService: Bool {
        if case .domain = address, port == 0 { return true }
        return false
    }

    public var description: String {
        if isService { return "service \(address)" }
        if case .ipv6 = address { return "[\(address)]:\(port)" }
        return "\(address):\(port)"
    }
}
