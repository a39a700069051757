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

    /// An unsigned integer of any width, given big-endian, as its canonical byte string:
    /// leading zero bytes are dropped (so all-zero input is the empty string, i.e. 0).
    public static func uint(bigEndian bytes: [UInt8]) -> RLPItem {
        .bytes(Array(bytes.drop(while: { $0 == 0 })))
    }

    public static func string(_ s: String) -> RLPItem { .bytes(Array(s.utf8)) }

    /// The value as an unsigned integer, rejecting leading zeros and values over 64 bits
    /// (go-ethereum's rlp rules for uint64 fields).
    public func uintValue() throws(RLPError) -> UInt64 {
        guard case .bytes(let b) = self else { throw .expectedBytes }
        if b.count > 8 { throw .integerOverflow }
        if let first = b.first, first == 0 { throw .leadingZeroInInteger }
        var v: UInt64 = 0
        for byte in b { v = (v << 8) | UInt64(byte) }
        return v
    }

    /// The byte string, or `.expectedBytes` if this is a list.
    public func expectBytes() throws(RLPError) -> [UInt8] {
        guard case .bytes(let b) = self else { throw .expectedBytes }
        return b
    }

    /// The byte string, which must be exactly `count` bytes long (keys, nonces, node IDs).
    public func expectBytes(count: Int) throws(RLPError) -> [UInt8] {
        guard case .bytes(let b) = self else { throw .expectedBytes }
        guard b.count == count else { throw .wrongByteCount(expected: count, actual: b.count) }
        return b
    }

    /// The list's elements, or `.expectedList` if this is a byte string.
    public func expectList() throws(RLPError) -> [RLPItem] {
        guard case .list(let l) = self else { throw .expectedList }
        return l
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
