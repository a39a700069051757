/// Why a frame could not be written or read. Any error while reading leaves the session
/// unusable (the MAC and cipher streams can no longer agree with the peer's), so a decoder that
/// threw keeps throwing the same error.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Frame data of `size` bytes does not fit the 24-bit frame-size field (devp2p rlpx.md;
    /// go-ethereum's errWriteTooLarge / "message length >= 16MB").
    case frameDataTooLarge(size: Int)
    /// The header MAC did not verify: tampering, a wrong key, or lost stream synchronisation.
    case headerMACMismatch
    /// The frame MAC did not verify; the body was neither decrypted nor returned.
    case frameMACMismatch
    /// The authenticated header announces a frame larger than the caller currently accepts
    /// (for example 2 KiB plus overhead before Hello); refused before the body is awaited.
    case frameSizeExceedsLimit(size: Int, limit: Int)

    public var description: String {
        switch self {
        case .frameDataTooLarge(let size):
            return "rlpx: frame data of \(size) bytes exceeds the 24-bit frame size (message length >= 16MB)"
        case .headerMACMismatch:
            return "rlpx: bad header MAC"
        case .frameMACMismatch:
            return "rlpx: bad frame MAC"
        case .frameSizeExceedsLimit(let size, let limit):
            return "rlpx: frame of \(size) bytes exceeds the current limit of \(limit) bytes"
        }
    }
}
