import RLP

/// Why a peer is being (or was) disconnected: the payload of base protocol message 0x01.
///
/// A struct over the raw code rather than an enum, so a code this node does not know (sent by
/// a newer peer) is kept and reported as such instead of being lost or refused.
public struct DisconnectReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    // Codes from devp2p rlpx.md "Disconnect"; names as go-ethereum's DiscReason constants.
    public static let requested = DisconnectReason(rawValue: 0x00)
    public static let networkError = DisconnectReason(rawValue: 0x01)
    public static let protocolError = DisconnectReason(rawValue: 0x02)
    public static let uselessPeer = DisconnectReason(rawValue: 0x03)
    public static let tooManyPeers = DisconnectReason(rawValue: 0x04)
    public static let alreadyConnected = DisconnectReason(rawValue: 0x05)
    public static let incompatibleVersion = DisconnectReason(rawValue: 0x06)
    public static let invalidIdentity = DisconnectReason(rawValue: 0x07)
    public static let quitting = DisconnectReason(rawValue: 0x08)
    public static let unexpectedIdentity = DisconnectReason(rawValue: 0x09)
    public static let connectedToSelf = DisconnectReason(rawValue: 0x0a)
    public static let readTimeout = DisconnectReason(rawValue: 0x0b)
    public static let subprotocolError = DisconnectReason(rawValue: 0x10)
    /// go-ethereum's DiscInvalid: not sent on the wire by go-ethereum, but what a Disconnect
    /// whose payload cannot be decoded is reported as.
    public static let invalid = DisconnectReason(rawValue: 0xff)

    /// Every code devp2p defines, in code order (without `invalid`, which is local).
    public static let allDefined: [DisconnectReason] = [
        .requested, .networkError, .protocolError, .uselessPeer, .tooManyPeers, .alreadyConnected,
        .incompatibleVersion, .invalidIdentity, .quitting, .unexpectedIdentity, .connectedToSelf,
        .readTimeout, .subprotocolError,
    ]

    /// go-ethereum's description strings (p2p/peer_error.go discReasonToString), so logs read
    /// the same on both implementations.
    public var description: String {
        switch rawValue {
        case 0x00: return "disconnect requested"
        case 0x01: return "network error"
        case 0x02: return "breach of protocol"
        case 0x03: return "useless peer"
        case 0x04: return "too many peers"
        case 0x05: return "already connected"
        case 0x06: return "incompatible p2p protocol version"
        case 0x07: return "invalid node identity"
        case 0x08: return "client quitting"
        case 0x09: return "unexpected identity"
        case 0x0a: return "connected to self"
        case 0x0b: return "read timeout"
        case 0x10: return "subprotocol error"
        case 0xff: return "invalid disconnect reason"
        default: return "unknown disconnect reason \(rawValue)"
        }
    }

    /// Whether devp2p defines this code.
    public var isDefined: Bool { Self.allDefined.contains(self) }

    /// The Disconnect payload as go-ethereum sends it: `[reason]`.
    public func encodePayload() -> [UInt8] {
        RLP.encode(.list([.uint(UInt64(rawValue))]))
    }

    /// go-ethereum's lenient `decodeDisconnectMessage`: `[reason, ...]` or, because some
    /// implementations (geth included) once sent it so, a bare reason; anything else (empty,
    /// an empty list, a non-canonical or over-wide integer, a first value over 100 bytes) is
    /// `.invalid`. Never throws: a peer that is leaving cannot be made to leave harder.
    public static func decode(payload: [UInt8]) -> DisconnectReason {
        // go-ethereum reads through rlp.NewStream(r, 100): a first value longer than that fails.
        let window = Array(payload.prefix(disconnectInputLimit))
        guard let decoded = try? RLP.decodePrefix(window) else { return .invalid }
        let reasonItem: RLPItem
        switch decoded.0 {
        case .list(let elements):
            guard let first = elements.first else { return .invalid }
            reasonItem = first
        case .bytes:
            reasonItem = decoded.0
        }
        guard let code = try? reasonItem.uintValue(), code <= UInt64(UInt8.max) else { return .invalid }
        return DisconnectReason(rawValue: UInt8(code))
    }

    /// go-ethereum decodes a Disconnect payload with an input limit of 100 bytes.
    static let disconnectInputLimit = 100
}
