/// Why a snappy raw block was refused. Every case is a property of hostile or broken input,
/// except `inputTooLarge`, which is the caller asking for more than the format can express.
public enum SnappyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The leading varint (decompressed length) is truncated, longer than 5 bytes, or its value
    /// does not fit in 32 bits (golang/snappy `ErrCorrupt` for all three).
    case invalidLengthPrefix
    /// The declared decompressed length exceeds the caller's bound; nothing was allocated.
    case declaredLengthTooLarge(declared: Int, limit: Int)
    /// The elements after the length prefix do not decode to exactly the declared length
    /// (bad tag, offset 0 or beyond the output, truncated element, short or long output).
    case corrupt
    /// Compression input longer than a raw block's 32-bit length field can describe.
    case inputTooLarge(Int)

    public var description: String {
        switch self {
        case .invalidLengthPrefix:
            return "snappy: invalid decompressed-length prefix"
        case .declaredLengthTooLarge(let declared, let limit):
            return "snappy: declared decompressed length \(declared) exceeds the limit of \(limit) bytes"
        case .corrupt:
            return "snappy: corrupt input"
        case .inputTooLarge(let n):
            return "snappy: \(n) bytes is too large for one raw block"
        }
    }
}
