/// The egress half of an RLPx session: frame data in, wire bytes out. Pure (no I/O); every
/// call advances the egress cipher stream and MAC, so frames must be sent in encode order.
public struct FrameEncoder: Sendable {
    var cipher: FrameCipherStream
    var mac: FrameMAC

    init(cipher: FrameCipherStream, mac: FrameMAC) {
        self.cipher = cipher
        self.mac = mac
    }

    /// Encrypts and authenticates one frame. `frameData` is what the message layer produced
    /// (rlp(msg-id) || msg-data) and must be smaller than 16 MiB.
    public mutating func encode(_ frameData: [UInt8]) throws(FrameError) -> [UInt8] {
        guard frameData.count <= FrameLayout.maximumFrameSize else {
            throw .frameDataTooLarge(size: frameData.count)
        }
        return frameData.withUnsafeBytes { encodeChecked($0) }
    }

    /// As `encode(_:)`, for frame data that is not in an array.
    public mutating func encode(_ frameData: UnsafeRawBufferPointer) throws(FrameError) -> [UInt8] {
        guard frameData.count <= FrameLayout.maximumFrameSize else {
            throw .frameDataTooLarge(size: frameData.count)
        }
        return encodeChecked(frameData)
    }

    private mutating func encodeChecked(_ frameData: UnsafeRawBufferPointer) -> [UInt8] {
        let size = frameData.count
        let padded = FrameLayout.paddedLength(size)
        let headerEnd = FrameLayout.headerAndMACLength
        let bodyEnd = headerEnd + padded
        let total = bodyEnd + FrameLayout.macLength
        let header = FrameLayout.plaintextHeader(frameSize: size)
        let zeroPadding = [UInt8](repeating: 0, count: padded - size)

        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let out = UnsafeMutableRawBufferPointer(buffer)
            let headerCiphertext = UnsafeMutableRawBufferPointer(rebasing: out[0..<FrameLayout.headerLength])
            header.withUnsafeBytes { cipher.apply($0, to: headerCiphertext) }
            let headerMAC = mac.headerMAC(UnsafeRawBufferPointer(headerCiphertext))
            UnsafeMutableRawBufferPointer(rebasing: out[FrameLayout.headerLength..<headerEnd]).copyBytes(from: headerMAC)

            // Data and padding go through the cipher in two calls: the stream is continuous,
            // so this equals encrypting the padded body at once, without copying the data.
            cipher.apply(frameData, to: UnsafeMutableRawBufferPointer(rebasing: out[headerEnd..<(headerEnd + size)]))
            zeroPadding.withUnsafeBytes {
                cipher.apply($0, to: UnsafeMutableRawBufferPointer(rebasing: out[(headerEnd + size)..<bodyEnd]))
            }
            let frameMAC = mac.frameMAC(UnsafeRawBufferPointer(rebasing: out[headerEnd..<bodyEnd]))
            UnsafeMutableRawBufferPointer(rebasing: out[bodyEnd..<total]).copyBytes(from: frameMAC)
            initialized = total
        }
    }
}
