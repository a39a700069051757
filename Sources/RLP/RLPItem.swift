/// A decoded RLP value: a byte string or a list of values.
///
/// RLP (Ethereum Yellow Paper, appendix B) has exactly these two shapes; integers are
/// big-endian byte strings with no leading zeros.
public enum RLPItem: Equatable, Hashable, Sendable {
    case bytes([UInt8])
    case list([RLPItem])

    public var bytesValue: [UInt8]? {
        if case .bytes(let b) = self { return b }
        return nil
    }

    public var listValue: [RLPItem]? {
        if case .list(let l) = self { return l }
        return nil
    }
}

extension RLPItem {
    /// An unsigned integer as its canonical RLP byte string (no leading zeros; zero is empty).
    public static func uint(_ value: UInt64) -> RLPItem {
        .bytes(RLPItem.bigEndianMinimal(value))
    }

    public static func string(_ s: String) -> RLPItem { .bytes(Array(s.utf8)) }

    /// The value as an unsigned integer, rejecting leading zeros and values over 64 bits.
    public func uintValue() throws(RLPError) -> UInt64 {
        guard case .bytes(let b) = self else { throw .expectedBytes }
        if b.count > 8 { throw .integerOverflow }
        if let first = b.first, first == 0 { throw .leadingZeroInInteger }
        var v: UInt64 = 0
        for byte in b { v = (v << 8) | UInt64(byte) }
        return v
    }

    static func bigEndianMinimal(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        var v = value
        while v > 0 {
            out.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
        return out.reversed()
    }
}
