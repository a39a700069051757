/// Sizes and the fixed header of an RLPx frame (devp2p rlpx.md, "Framing"):
///
///     frame = header-ciphertext(16) || header-mac(16) || frame-ciphertext || frame-mac(16)
///     header = frame-size(3, big-endian) || header-data || zero padding to 16
///     frame-ciphertext = AES-CTR(frame-data || zero padding to a multiple of 16)
public enum FrameLayout {
    /// Length of the header, of each MAC, and of the AES block the padding aligns to.
    public static let blockLength = 16
    public static let headerLength = 16
    public static let macLength = 16
    /// Header ciphertext plus header MAC: what must arrive before the frame size is known.
    public static let headerAndMACLength = headerLength + macLength

    /// The frame-size field is 24 bits (rlpx.md); go-ethereum's maxUint24.
    public static let maximumFrameSize = (1 << 24) - 1

    /// header-data = rlp([capability-id, context-id]) = rlp([0, 0]): what go-ethereum writes
    /// (zeroHeader in p2p/rlpx). Readers ignore it, as go-ethereum does, because the
    /// multiplexing fields it once carried were never used.
    public static let headerData: [UInt8] = [0xc2, 0x80, 0x80]

    /// Bytes `size` frame-data bytes occupy after zero padding to the AES block size.
    @inlinable
    public static func paddedLength(_ size: Int) -> Int {
        (size + blockLength - 1) / blockLength * blockLength
    }

    /// Total bytes on the wire for one frame carrying `size` bytes of frame data.
    @inlinable
    public static func wireLength(frameDataSize size: Int) -> Int {
        headerAndMACLength + paddedLength(size) + macLength
    }

    /// The 16-byte plaintext header for a frame of `size` bytes.
    static func plaintextHeader(frameSize size: Int) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: headerLength)
        header[0] = UInt8(truncatingIfNeeded: size >> 16)
        header[1] = UInt8(truncatingIfNeeded: size >> 8)
        header[2] = UInt8(truncatingIfNeeded: size)
        header.replaceSubrange(3..<(3 + headerData.count), with: headerData)
        return header
    }

    /// The frame size in a decrypted header.
    static func frameSize(ofPlaintextHeader header: UnsafeRawBufferPointer) -> Int {
        Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
    }
}
