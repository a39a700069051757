import Keccak

/// Both directions of an established RLPx session's framing: an encoder for what this side
/// sends and a decoder for what it receives, created from the handshake's `SessionSecrets`.
///
/// The whole state (cipher positions, MAC states, a decoded header, buffered bytes) can be
/// exported to bytes and restored in another process: see `exportState()`.
public struct FrameCodec: Sendable {
    public var encoder: FrameEncoder
    public var decoder: FrameDecoder

    /// - Parameter maximumIncomingFrameSize: the decoder's initial limit on a received frame's
    ///   size; lower it while waiting for Hello, raise it afterwards (`decoder.maximumFrameSize`).
    public init(secrets: SessionSecrets, maximumIncomingFrameSize: Int = FrameLayout.maximumFrameSize) {
        let aes = AESKey(secrets.aesSecret)
        let macKey = AESKey(secrets.macSecret)
        encoder = FrameEncoder(cipher: FrameCipherStream(key: aes), mac: FrameMAC(state: secrets.egressMAC, key: macKey))
        decoder = FrameDecoder(cipher: FrameCipherStream(key: aes), mac: FrameMAC(state: secrets.ingressMAC, key: macKey),
                               maximumFrameSize: maximumIncomingFrameSize)
    }

    init(encoder: FrameEncoder, decoder: FrameDecoder) {
        self.encoder = encoder
        self.decoder = decoder
    }

    /// Encodes one outgoing frame (see `FrameEncoder.encode`).
    public mutating func encode(_ frameData: [UInt8]) throws(FrameError) -> [UInt8] {
        try encoder.encode(frameData)
    }

    /// Feeds received bytes (see `FrameDecoder.feed`).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        decoder.feed(bytes)
    }

    public mutating func feed(_ bytes: [UInt8]) {
        decoder.feed(bytes)
    }

    public mutating func feed(_ bytes: ArraySlice<UInt8>) {
        decoder.feed(bytes)
    }

    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        decoder.feed(bytes)
    }

    /// The next complete received frame's data, or nil (see `FrameDecoder.nextFrame`).
    public mutating func nextFrame() throws(FrameError) -> [UInt8]? {
        try decoder.nextFrame()
    }
}
