import RLPxFrame
import Snappy

/// Why frame data could not be turned into a message, or a message into frame data.
public enum MessageCodecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The frame does not start with a canonical RLP unsigned integer of at most 64 bits
    /// (go-ethereum: "invalid message code").
    case invalidMessageID
    /// A payload of 16 MiB or more (go-ethereum errPlainMessageTooLarge), or a message whose
    /// frame data would not fit a frame's 24-bit size.
    case messageTooLarge(size: Int)
    /// The compressed payload is corrupt or declares more than 16 MiB decompressed.
    case snappy(SnappyError)

    public var description: String {
        switch self {
        case .invalidMessageID: return "devp2p: invalid message code"
        case .messageTooLarge(let size): return "devp2p: message of \(size) bytes is too large (message length >= 16MB)"
        case .snappy(let e): return "devp2p: \(e)"
        }
    }
}
