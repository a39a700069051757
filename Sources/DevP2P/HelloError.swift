import RLP

/// Why a received Hello was refused, and the disconnect reason to send for it.
public enum HelloError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Payload above go-ethereum's baseProtocolMaxMsgSize (2 KiB); nothing was decoded.
    case tooLarge(size: Int, limit: Int)
    /// Not valid RLP at all.
    case rlp(RLPError)
    /// Valid RLP of the wrong shape: a field missing, a list where a string belongs, an
    /// integer too wide or not canonical.
    case malformed(field: String)
    /// The node ID is not 64 bytes, or is all zero (go-ethereum DiscInvalidIdentity).
    case invalidIdentity

    /// What to tell the peer: go-ethereum answers a bad identity with DiscInvalidIdentity and
    /// every other bad Hello as a breach of protocol.
    public var disconnectReason: DisconnectReason {
        switch self {
        case .invalidIdentity: return .invalidIdentity
        case .tooLarge, .rlp, .malformed: return .protocolError
        }
    }

    public var description: String {
        switch self {
        case .tooLarge(let size, let limit): return "hello: \(size) bytes exceeds the \(limit)-byte limit"
        case .rlp(let e): return "hello: \(e)"
        case .malformed(let field): return "hello: malformed \(field)"
        case .invalidIdentity: return "hello: invalid node identity (must be 64 bytes, not all zero)"
        }
    }
}
