import RLPxFrame
import Snappy

/// Constants of devp2p's base protocol ("p2p"), each named as go-ethereum names it.
public enum BaseProtocol {
    /// The p2p version this node speaks and advertises in Hello (go-ethereum
    /// `baseProtocolVersion`); 5 adds snappy compression.
    public static let version: UInt64 = 5
    /// Message ids 0x00..0x0f belong to the base protocol; capabilities start after them
    /// (go-ethereum `baseProtocolLength`).
    public static let length: UInt64 = 16
    /// Largest Hello (or other pre-Hello message) payload accepted (go-ethereum
    /// `baseProtocolMaxMsgSize` = 2 * 1024).
    public static let maximumMessageSize = 2 * 1024
    /// Both Hellos at this version or above switch every later message to snappy
    /// (go-ethereum `snappyProtocolVersion`).
    public static let snappyVersion: UInt64 = 5
    /// Largest decompressed message (go-ethereum rlpx: maxUint24, "message length >= 16MB").
    public static let maximumDecompressedSize = Snappy.devp2pMaximumDecodedLength

    /// The frame-size limit to give the frame decoder until Hello has been received: the
    /// 2 KiB payload plus one byte of message id (ids 0x00 and 0x01 are the only messages
    /// valid before Hello, and any id below 0x80 is one canonical RLP byte). go-ethereum reads
    /// a whole frame of up to 16 MiB before checking the 2 KiB; this refuses it at the header.
    public static let maximumPreHelloFrameSize = maximumMessageSize + 1

    /// The frame-size limit after Hello: the 24-bit frame size.
    public static let maximumFrameSize = FrameLayout.maximumFrameSize

    /// Base protocol message ids (devp2p rlpx.md, "p2p Capability").
    public enum MessageID {
        public static let hello: UInt64 = 0x00
        public static let disconnect: UInt64 = 0x01
        public static let ping: UInt64 = 0x02
        public static let pong: UInt64 = 0x03
    }
}
