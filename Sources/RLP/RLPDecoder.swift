/// The strict RLP decoder: it accepts only the canonical encoding of a value, the one
/// `RLP.encode` produces, exactly as go-ethereum's `rlp` package does. Every length read from
/// the input is checked against the bytes actually present before anything is allocated, and
/// list nesting is bounded so hostile input cannot exhaust the stack.
extension RLP {
    /// Nesting limit of the strict decoder: deep enough for every devp2p message (the deepest,
    /// Hello's capability list, is 3 levels), shallow enough that recursion stays far from the
    /// stack limit of any thread.
    public static let defaultDepthLimit = 64

    /// Decodes exactly one canonical value that spans all of `bytes`.
    public static func decode(_ bytes: [UInt8], depthLimit: Int = defaultDepthLimit) throws(RLPError) -> RLPItem {
        try bytes.withUnsafeBufferPointer { (buf) throws(RLPError) -> RLPItem in
            try decodeWhole(buf, depthLimit: depthLimit)
        }
    }

    /// Decodes exactly one canonical value that spans all of `bytes`.
    public static func decode(_ bytes: ArraySlice<UInt8>, depthLimit: Int = defaultDepthLimit) throws(RLPError) -> RLPItem {
        try bytes.withUnsafeBufferPointer { (buf) throws(RLPError) -> RLPItem in
            try decodeWhole(buf, depthLimit: depthLimit)
        }
    }

    /// Decodes one canonical value at the start of `bytes`, returning it and the bytes it used.
    /// For messages whose RLP is followed by other data (devp2p message ids, EIP-8 padding).
    public static func decodePrefix(_ bytes: [UInt8], depthLimit: Int = defaultDepthLimit) throws(RLPError) -> (RLPItem, Int) {
        try bytes.withUnsafeBufferPointer { (buf) throws(RLPError) -> (RLPItem, Int) in
            try decodeFirst(buf, depthLimit: depthLimit)
        }
    }

    /// Decodes one canonical value at the start of `bytes`, returning it and the bytes it used
    /// (a count, not an index into the slice).
    public static func decodePrefix(_ bytes: ArraySlice<UInt8>, depthLimit: Int = defaultDepthLimit) throws(RLPError) -> (RLPItem, Int) {
        try bytes.withUnsafeBufferPointer { (buf) throws(RLPError) -> (RLPItem, Int) in
            try decodeFirst(buf, depthLimit: depthLimit)
        }
    }

    /// The size of the canonical value at the start of `bytes` (header plus payload), checking
    /// only its header: lets a reader learn how much to wait for before decoding anything.
    public static func prefixLength(_ bytes: [UInt8]) throws(RLPError) -> Int {
        try bytes.withUnsafeBufferPointer { (buf) throws(RLPError) -> Int in
            if buf.isEmpty { throw .empty }
            var pos = 0
            let header = try readHeader(buf, &pos, buf.count)
            return pos + header.length
        }
    }

    private static func decodeWhole(_ buf: UnsafeBufferPointer<UInt8>, depthLimit: Int) throws(RLPError) -> RLPItem {
        let (item, used) = try decodeFirst(buf, depthLimit: depthLimit)
        if used != buf.count { throw .trailingBytes(count: buf.count - used) }
        return item
    }

    private static func decodeFirst(_ buf: UnsafeBufferPointer<UInt8>, depthLimit: Int) throws(RLPError) -> (RLPItem, Int) {
        if buf.isEmpty { throw .empty }
        var pos = 0
        let item = try decodeItem(buf, &pos, buf.count, depth: 0, limit: depthLimit)
        return (item, pos)
    }

    /// Reads one header at `pos` and checks every canonical rule and that the payload fits
    /// before `end`. Afterwards `pos` is at the payload; for a lone byte below 0x80 (its own
    /// encoding, `singleByte`) `pos` stays on it and the payload length is 1.
    static func readHeader(_ buf: UnsafeBufferPointer<UInt8>, _ pos: inout Int, _ end: Int) throws(RLPError) -> (isList: Bool, length: Int, singleByte: Bool) {
        guard pos < end else { throw .truncated(needed: 1, available: 0) }
        let b = buf[pos]
        switch b {
        case 0x00...0x7f:
            return (false, 1, true)
        case 0x80...0xb7:
            pos += 1
            let len = Int(b - 0x80)
            guard end - pos >= len else { throw .truncated(needed: len, available: end - pos) }
            // A lone byte below 0x80 is its own encoding; 0x81 0x00...0x7f is a second spelling.
            if len == 1 && buf[pos] < 0x80 { throw .nonCanonicalSingleByte }
            return (false, len, false)
        case 0xb8...0xbf:
            pos += 1
            let len = try readLongLength(buf, &pos, end, lengthOfLength: Int(b - 0xb7))
            return (false, len, false)
        case 0xc0...0xf7:
            pos += 1
            let len = Int(b - 0xc0)
            guard end - pos >= len else { throw .truncated(needed: len, available: end - pos) }
            return (true, len, false)
        default:
            pos += 1
            let len = try readLongLength(buf, &pos, end, lengthOfLength: Int(b - 0xf7))
            return (true, len, false)
        }
    }

    /// Reads a long-form length of `lengthOfLength` (1...8) big-endian bytes at `pos`.
    static func readLongLength(_ buf: UnsafeBufferPointer<UInt8>, _ pos: inout Int, _ end: Int, lengthOfLength: Int) throws(RLPError) -> Int {
        guard end - pos >= lengthOfLength else { throw .truncated(needed: lengthOfLength, available: end - pos) }
        if buf[pos] == 0 { throw .leadingZeroInLength }
        // With a nonzero first byte, 8 length bytes mean at least 2^56 bytes: more than any
        // input can hold. Refusing here also keeps the shifts below from overflowing Int.
        if lengthOfLength > 7 { throw .lengthTooLarge }
        var len = 0
        for i in 0..<lengthOfLength { len = (len << 8) | Int(buf[pos + i]) }
        pos += lengthOfLength
        if len < shortPayloadLimit { throw .nonCanonicalLongLength }
        guard end - pos >= len else { throw .truncated(needed: len, available: end - pos) }
        return len
    }

    static func decodeItem(_ buf: UnsafeBufferPointer<UInt8>, _ pos: inout Int, _ end: Int, depth: Int, limit: Int) throws(RLPError) -> RLPItem {
        let (isList, len, single) = try readHeader(buf, &pos, end)
        if single {
            let v = buf[pos]
            pos += 1
            return .bytes([v])
        }
        if !isList {
            // readHeader proved pos + len <= end.
            let out = Array(buf[pos..<(pos + len)])
            pos += len
            return .bytes(out)
        }
        guard depth < limit else { throw .depthLimitExceeded(limit: limit) }
        let listEnd = pos + len
        var items: [RLPItem] = []
        while pos < listEnd {
            // Children are bounded by the list's end, not the input's: a child that claims
            // more than its parent holds is truncated, whatever follows the list.
            items.append(try decodeItem(buf, &pos, listEnd, depth: depth + 1, limit: limit))
        }
        return .list(items)
    }
}
