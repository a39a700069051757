extension RLP {
    /// Nesting limit of the strict decoder: deep enough for every devp2p message, shallow
    /// enough that hostile input cannot exhaust the stack.
    public static let defaultDepthLimit = 64

    /// Decodes exactly one canonical value that spans all of `bytes`.
    public static func decode(_ bytes: [UInt8], depthLimit: Int = defaultDepthLimit) throws(RLPError) -> RLPItem {
        try bytes.withUnsafeBufferPointer { (buf) throws(RLPError) -> RLPItem in
            var pos = 0
            let item = try decodeItem(buf, &pos, buf.count, depth: 0, limit: depthLimit)
            if pos != buf.count { throw .trailingBytes(count: buf.count - pos) }
            return item
        }
    }

    /// Decodes one canonical value at the start of `bytes`, returning it and the bytes it used.
    /// For messages whose RLP is followed by other data (devp2p message ids, EIP-8 padding).
    public static func decodePrefix(_ bytes: [UInt8], depthLimit: Int = defaultDepthLimit) throws(RLPError) -> (RLPItem, Int) {
        try bytes.withUnsafeBufferPointer { (buf) throws(RLPError) -> (RLPItem, Int) in
            var pos = 0
            let item = try decodeItem(buf, &pos, buf.count, depth: 0, limit: depthLimit)
            return (item, pos)
        }
    }

    /// Reads one header at `pos`, returning (isList, payloadLength), checking every canonical
    /// rule and that the payload fits in `end`. Nothing is allocated before the check.
    static func readHeader(_ buf: UnsafeBufferPointer<UInt8>, _ pos: inout Int, _ end: Int) throws(RLPError) -> (isList: Bool, length: Int, singleByte: Bool) {
        guard pos < end else { throw .truncated(needed: 1, available: 0) }
        let b = buf[pos]
        pos += 1
        switch b {
        case 0x00...0x7f:
            pos -= 1
            return (false, 1, true)
        case 0x80...0xb7:
            let len = Int(b - 0x80)
            guard end - pos >= len else { throw .truncated(needed: len, available: end - pos) }
            if len == 1 && buf[pos] < 0x80 { throw .nonCanonicalSingleByte }
            return (false, len, false)
        case 0xb8...0xbf:
            let len = try readLongLength(buf, &pos, end, lengthOfLength: Int(b - 0xb7))
            return (false, len, false)
        case 0xc0...0xf7:
            let len = Int(b - 0xc0)
            guard end - pos >= len else { throw .truncated(needed: len, available: end - pos) }
            return (true, len, false)
        default:
            let len = try readLongLength(buf, &pos, end, lengthOfLength: Int(b - 0xf7))
            return (true, len, false)
        }
    }

    static func readLongLength(_ buf: UnsafeBufferPointer<UInt8>, _ pos: inout Int, _ end: Int, lengthOfLength: Int) throws(RLPError) -> Int {
        guard end - pos >= lengthOfLength else { throw .truncated(needed: lengthOfLength, available: end - pos) }
        if buf[pos] == 0 { throw .leadingZeroInLength }
        // Lengths beyond Int.max/2 cannot describe bytes in memory; refuse before shifting.
        if lengthOfLength > 7 { throw .lengthTooLarge }
        var len = 0
        for i in 0..<lengthOfLength { len = (len << 8) | Int(buf[pos + i]) }
        pos += lengthOfLength
        if len < 56 { throw .nonCanonicalLongLength }
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
            let out = Array(buf[pos..<(pos + len)])
            pos += len
            return .bytes(out)
        }
        guard depth < limit else { throw .depthLimitExceeded(limit: limit) }
        let listEnd = pos + len
        var items: [RLPItem] = []
        while pos < listEnd {
            items.append(try decodeItem(buf, &pos, listEnd, depth: depth + 1, limit: limit))
        }
        return .list(items)
    }
}
