/// Why a byte string is not canonical RLP. Each case names one rule of the strict decoder.
public enum RLPError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case truncated(needed: Int, available: Int)
    case nonCanonicalSingleByte      // 0x81 0x00..0x7f: a single byte < 0x80 must encode as itself
    case leadingZeroInLength
    case nonCanonicalLongLength      // long form used for a length < 56
    case lengthTooLarge              // a length of 2^56 or more: no input holds that many bytes
    case trailingBytes(count: Int)
    case depthLimitExceeded(limit: Int)
    case expectedBytes
    case expectedList
    case integerOverflow
    case leadingZeroInInteger
    case wrongByteCount(expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .empty: return "rlp: empty input"
        case .truncated(let n, let a): return "rlp: value needs \(n) bytes but only \(a) remain"
        case .nonCanonicalSingleByte: return "rlp: non-canonical single byte"
        case .leadingZeroInLength: return "rlp: length has a leading zero"
        case .nonCanonicalLongLength: return "rlp: long length form used for a length below 56"
        case .lengthTooLarge: return "rlp: length does not fit"
        case .trailingBytes(let n): return "rlp: \(n) trailing bytes after the value"
        case .depthLimitExceeded(let l): return "rlp: nesting deeper than \(l)"
        case .expectedBytes: return "rlp: expected a byte string, found a list"
        case .expectedList: return "rlp: expected a list, found a byte string"
        case .integerOverflow: return "rlp: integer wider than 64 bits"
        case .leadingZeroInInteger: return "rlp: integer has a leading zero"
        case .wrongByteCount(let e, let a): return "rlp: expected \(e) bytes, found \(a)"
        }
    }
}
