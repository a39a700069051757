/// The ingress half of an RLPx session: the caller feeds whatever bytes arrived from the
/// socket, in any pieces, and takes out whole frames' data as they complete. Pure (no I/O).
///
/// Bounds: the header MAC is verified and the announced frame size is checked against
/// `maximumFrameSize` as soon as the 32 header bytes are present, before the decoder waits for
/// or allocates the body; `bytesNeeded` tells the caller how much more to read, so a reader
/// that honours it never buffers past the current frame.
public struct FrameDecoder: Sendable {
    var cipher: FrameCipherStream
    var mac: FrameMAC
    /// The largest frame size (the 24-bit header field, i.e. frame data before padding) that
    /// the caller accepts now: for example 2 KiB plus overhead before Hello, then
    /// `FrameLayout.maximumFrameSize`. Checked against every header, and again for a header
    /// already decoded when the limit is lowered. Clamped to 0...FrameLayout.maximumFrameSize.
    public var maximumFrameSize: Int {
        get { frameSizeLimit }
        set { frameSizeLimit = min(max(newValue, 0), FrameLayout.maximumFrameSize) }
    }
    private var frameSizeLimit: Int
    /// Bytes fed but not yet consumed start at `readIndex`.
    var buffer: [UInt8] = []
    var readIndex = 0
    /// The size from a header already authenticated and decrypted whose body is incomplete.
    var pendingFrameSize: Int?
    /// The first error: the streams cannot recover from it, so it is returned forever after.
    private(set) var failure: FrameError?

    init(cipher: FrameCipherStream, mac: FrameMAC, maximumFrameSize: Int) {
        self.cipher = cipher
        self.mac = mac
        frameSizeLimit = min(max(maximumFrameSize, 0), FrameLayout.maximumFrameSize)
    }

    /// Bytes fed and not yet returned as part of a frame (a decoded but incomplete frame's
    /// header is no longer counted: it lives on as `pendingFrameSize`).
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// How many more bytes must be fed before `nextFrame()` can make progress; 0 means call it.
    public var bytesNeeded: Int {
        let want: Int
        if let size = pendingFrameSize {
            want = FrameLayout.paddedLength(size) + FrameLayout.macLength
        } else {
            want = FrameLayout.headerAndMACLength
        }
        return max(0, want - bufferedByteCount)
    }

    /// Appends bytes read from the peer (straight from a read buffer: one memcpy).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
    }

    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    public mutating func feed(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Any other byte sequence (Data, ByteBuffer views, ...). The concrete overloads above are
    /// faster: this one is not specialised across the module boundary.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    /// Returns the next complete frame's data (padding removed), or nil if more bytes are
    /// needed. Throws on a bad MAC or an oversize header; after that, the decoder stays failed.
    public mutating func nextFrame() throws(FrameError) -> [UInt8]? {
        if let failure { throw failure }
        do {
            return try decodeStep()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func decodeStep() throws(FrameError) -> [UInt8]? {
        if pendingFrameSize == nil {
            guard bufferedByteCount >= FrameLayout.headerAndMACLength else { return nil }
            pendingFrameSize = try readHeader()
        }
        let size = pendingFrameSize!
        guard size <= maximumFrameSize else {
            throw .frameSizeExceedsLimit(size: size, limit: maximumFrameSize)
        }
        let padded = FrameLayout.paddedLength(size)
        guard bufferedByteCount >= padded + FrameLayout.macLength else { return nil }
        let frame = try readBody(size: size, padded: padded)
        pendingFrameSize = nil
        return frame
    }

    /// Authenticates and decrypts the header at the read position; returns the frame size.
    private mutating func readHeader() throws(FrameError) -> Int {
        let start = readIndex
        var plaintext = [UInt8](repeating: 0, count: FrameLayout.headerLength)
        let verified = buffer.withUnsafeBytes { raw -> Bool in
            let ciphertext = UnsafeRawBufferPointer(rebasing: raw[start..<(start + FrameLayout.headerLength)])
            let received = UnsafeRawBufferPointer(rebasing: raw[(start + FrameLayout.headerLength)..<(start + FrameLayout.headerAndMACLength)])
            guard FrameMAC.equal(mac.headerMAC(ciphertext), received) else { return false }
            plaintext.withUnsafeMutableBytes { cipher.apply(ciphertext, to: $0) }
            return true
        }
        guard verified else { throw .headerMACMismatch }
        readIndex += FrameLayout.headerAndMACLength
        let size = plaintext.withUnsafeBytes { FrameLayout.frameSize(ofPlaintextHeader: $0) }
        // header-data (bytes 3..<16) is not checked, as in go-ethereum: see FrameLayout.headerData.
        return size
    }

    /// Authenticates, then decrypts, the body at the read position.
    private mutating func readBody(size: Int, padded: Int) throws(FrameError) -> [UInt8] {
        let start = readIndex
        let verified = buffer.withUnsafeBytes { raw -> Bool in
            let body = UnsafeRawBufferPointer(rebasing: raw[start..<(start + padded)])
            let received = UnsafeRawBufferPointer(rebasing: raw[(start + padded)..<(start + padded + FrameLayout.macLength)])
            return FrameMAC.equal(mac.frameMAC(body), received)
        }
        guard verified else { throw .frameMACMismatch }
        var padding = [UInt8](repeating: 0, count: padded - size)
        let frame = buffer.withUnsafeBytes { raw in
            [UInt8](unsafeUninitializedCapacity: size) { out, initialized in
                cipher.apply(UnsafeRawBufferPointer(rebasing: raw[start..<(start + size)]),
                             to: UnsafeMutableRawBufferPointer(out))
                initialized = size
            }
        }
        buffer.withUnsafeBytes { raw in
            padding.withUnsafeMutableBytes {
                cipher.apply(UnsafeRawBufferPointer(rebasing: raw[(start + size)..<(start + padded)]), to: $0)
            }
        }
        readIndex += padded + FrameLayout.macLength
        return frame
    }

    /// Drops consumed bytes when they are all consumed, or when they are most of a large buffer
    /// (amortised: each byte is moved at most a constant number of times).
    private mutating func compactIfWorthwhile() {
        if readIndex == 0 { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex >= 4096 && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }
}
