/// RLP encoding (Yellow Paper appendix B).
public enum RLP {
    public static func encode(_ item: RLPItem) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        append(item, to: &out)
        return out
    }

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
            var body: [UInt8] = []
            for i in items { append(i, to: &body) }
            appendHeader(length: body.count, shortBase: 0xc0, to: &out)
            out.append(contentsOf: body)
        }
    }

    /// The header of a string (base 0x80) or list (base 0xc0) whose payload is `length` bytes.
    public static func appendHeader(length: Int, shortBase: UInt8, to out: inout [UInt8]) {
        if length < 56 {
            out.append(shortBase + UInt8(length))
        } else {
            let lenBytes = RLPItem.bigEndianMinimal(UInt64(length))
            out.append(shortBase + 55 + UInt8(lenBytes.count))
            out.append(contentsOf: lenBytes)
        }
    }
}
