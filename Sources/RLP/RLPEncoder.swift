/// RLP encoding (Ethereum Yellow Paper, appendix B).
///
/// The encoder first measures, then writes: a list's header needs its payload length, and
/// measuring avoids building each nested list in a temporary array and copying it up.
public enum RLP {
    public static func encode(_ item: RLPItem) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedLength(item))
        append(item, to: &out)
        return out
    }

    /// Appends the encoding of `item` to `out`.
    public static func append(_ item: RLPItem, to out: inout [UInt8]) {
        switch item {
        case .bytes(let b):
            if b.count == 1 && b[0] < 0x80 {
                out.append(b[0])
            } else {
                appendHeader(length: b.count, shortBase: 0x80, to: &out)
                out.append(contentsOf: b)
            }
        case .list(let items):
            appendHeader(length: payloadLength(ofList: items), shortBase: 0xc0, to: &out)
            for i in items { append(i, to: &out) }
        }
    }

    /// The number of bytes `encode(item)` produces, without producing them.
    public static func encodedLength(_ item: RLPItem) -> Int {
        switch item {
        case .bytes(let b):
            if b.count == 1 && b[0] < 0x80 { return 1 }
            return headerLength(payloadLength: b.count) + b.count
        case .list(let items):
            let payload = payloadLength(ofList: items)
            return headerLength(payloadLength: payload) + payload
        }
    }

    /// The header of a string (base 0x80) or list (base 0xc0) whose payload is `length` bytes.
    public static func appendHeader(length: Int, shortBase: UInt8, to out: inout [UInt8]) {
        precondition(length >= 0, "rlp: negative payload length")
        precondition(shortBase == 0x80 || shortBase == 0xc0, "rlp: header base is 0x80 or 0xc0")
        if length < shortPayloadLimit {
            out.append(shortBase + UInt8(length))
        } else {
            let lenBytes = RLPItem.bigEndianMinimal(UInt64(length))
            // 0xb7 / 0xf7 plus the count of length bytes (1...8).
            out.append(shortBase + UInt8(shortPayloadLimit - 1) + UInt8(lenBytes.count))
            out.append(contentsOf: lenBytes)
        }
    }

    /// Bytes of a header for a payload of `payloadLength` bytes (not for a lone byte < 0x80).
    public static func headerLength(payloadLength: Int) -> Int {
        if payloadLength < shortPayloadLimit { return 1 }
        var n = 0
        var v = UInt64(payloadLength)
        while v > 0 { n += 1; v >>= 8 }
        return 1 + n
    }

    /// Payloads shorter than this have a one-byte header; longer ones spell their length out
    /// (Yellow Paper appendix B: the 56-byte boundary).
    public static let shortPayloadLimit = 56

    static func payloadLength(ofList items: [RLPItem]) -> Int {
        var total = 0
        for i in items { total += encodedLength(i) }
        return total
    }
}
