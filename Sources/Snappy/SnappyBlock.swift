import CSnappy

/// Snappy raw block format (google/snappy format_description.txt), the encoding devp2p uses for
/// message payloads once both peers speak p2p version 5. Not the framing (stream) format.
///
/// Compression and decompression are done by libsnappy; this type adds what devp2p needs around
/// it: the declared length is parsed and bounded here, before any output is allocated.
public enum Snappy {
    /// devp2p's bound on a decompressed message: go-ethereum's rlpx `Conn.Read` refuses a decoded
    /// length above maxUint24 (0xFFFFFF) with "message length >= 16MB".
    public static let devp2pMaximumDecodedLength = (1 << 24) - 1

    /// The largest input a raw block can describe: its length prefix is a 32-bit value
    /// (format_description.txt: "stored as a little-endian varint ... up to 2^32 - 1").
    public static let maximumBlockLength = Int(UInt32.max)

    /// A varint of a 32-bit value takes at most 5 bytes (7 bits each).
    static let maximumLengthPrefixBytes = 5

    /// Compresses `input` into one raw block.
    public static func compress(_ input: [UInt8]) throws(SnappyError) -> [UInt8] {
        guard input.count <= maximumBlockLength else { throw .inputTooLarge(input.count) }
        // The empty block is the length prefix 0 alone; libsnappy needs a non-null source.
        if input.isEmpty { return [0] }
        let capacity = snappy_max_compressed_length(input.count)
        var status = SNAPPY_OK
        let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            var length = capacity
            status = input.withUnsafeBytes { source in
                buffer.withMemoryRebound(to: CChar.self) { destination in
                    snappy_compress(source.baseAddress!.assumingMemoryBound(to: CChar.self),
                                    source.count, destination.baseAddress, &length)
                }
            }
            initialized = status == SNAPPY_OK ? length : 0
        }
        // libsnappy fails only when the output buffer is too small, and it was sized by
        // snappy_max_compressed_length: a failure here is a broken library, not bad input.
        precondition(status == SNAPPY_OK, "snappy_compress failed with a buffer of max_compressed_length")
        return output
    }

    /// The decompressed length a raw block declares in its varint prefix, checked against
    /// `limit`. Reads at most 5 bytes and allocates nothing.
    public static func declaredLength(of block: [UInt8], limit: Int = devp2pMaximumDecodedLength) throws(SnappyError) -> Int {
        try readLengthPrefix(block, limit: limit).length
    }

    /// Decompresses one raw block. The declared length is refused above `limit` before the
    /// output is allocated; the block must decode to exactly the declared length.
    public static func decompress(_ block: [UInt8], limit: Int = devp2pMaximumDecodedLength) throws(SnappyError) -> [UInt8] {
        let (length, _) = try readLengthPrefix(block, limit: limit)
        if length == 0 {
            // Only the prefix itself is a valid empty block; libsnappy would agree, but cannot
            // be handed a zero-capacity buffer portably.
            guard block.count == 1 else { throw .corrupt }
            return []
        }
        var status = SNAPPY_OK
        let output = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            var produced = length
            status = block.withUnsafeBytes { source in
                buffer.withMemoryRebound(to: CChar.self) { destination in
                    snappy_uncompress(source.baseAddress!.assumingMemoryBound(to: CChar.self), source.count,
                                      destination.baseAddress, &produced)
                }
            }
            // libsnappy checks that the elements fill the declared length exactly; the count
            // check is belt and braces so no uninitialised byte can ever be exposed.
            if status != SNAPPY_OK || produced != length { status = SNAPPY_INVALID_INPUT }
            initialized = status == SNAPPY_OK ? length : 0
        }
        guard status == SNAPPY_OK else { throw .corrupt }
        return output
    }

    /// Parses the little-endian base-128 length prefix with golang/snappy's rules: at most 5
    /// bytes, no continuation bit on the last, value within 32 bits.
    static func readLengthPrefix(_ block: [UInt8], limit: Int) throws(SnappyError) -> (length: Int, prefixBytes: Int) {
        var value: UInt64 = 0
        var index = 0
        while true {
            guard index < block.count, index < maximumLengthPrefixBytes else { throw .invalidLengthPrefix }
            let byte = block[index]
            value |= UInt64(byte & 0x7f) << (7 * UInt64(index))
            index += 1
            if byte & 0x80 == 0 { break }
        }
        guard value <= UInt64(UInt32.max) else { throw .invalidLengthPrefix }
        let length = Int(value)
        guard length <= limit else { throw .declaredLengthTooLarge(declared: length, limit: limit) }
        return (length, index)
    }
}
