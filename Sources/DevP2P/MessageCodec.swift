import RLP
import RLPxFrame
import Snappy

/// Turns messages into RLPx frame data and back: `frame-data = rlp(msg-id) || msg-data`, with
/// msg-data snappy-compressed (raw block) once both Hellos advertise p2p version 5 or later.
///
/// Hello (id 0x00) is never compressed, whatever the state: it is exchanged before snappy can
/// be on, and exempting it means the order in which a caller sends its own Hello and enables
/// snappy after the peer's cannot matter.
public struct MessageCodec: Equatable, Sendable {
    public private(set) var snappyEnabled: Bool

    public init(snappyEnabled: Bool = false) {
        self.snappyEnabled = snappyEnabled
    }

    /// Whether the two Hellos' versions turn snappy on (go-ethereum: snappyProtocolVersion).
    public static func usesSnappy(localVersion: UInt64, remoteVersion: UInt64) -> Bool {
        localVersion >= BaseProtocol.snappyVersion && remoteVersion >= BaseProtocol.snappyVersion
    }

    /// Call once both Hellos are known.
    public mutating func negotiate(localHello: Hello, remoteHello: Hello) {
        snappyEnabled = Self.usesSnappy(localVersion: localHello.protocolVersion, remoteVersion: remoteHello.protocolVersion)
    }

    /// Frame data for `message`. The uncompressed payload must be under 16 MiB
    /// (go-ethereum checks before compressing), and so must the resulting frame data.
    public func encode(_ message: Message) throws(MessageCodecError) -> [UInt8] {
        guard message.payload.count <= BaseProtocol.maximumDecompressedSize else {
            throw .messageTooLarge(size: message.payload.count)
        }
        var frame = RLP.encode(.uint(message.id))
        if compresses(message.id) {
            do {
                frame += try Snappy.compress(message.payload)
            } catch {
                throw .snappy(error)
            }
        } else {
            frame += message.payload
        }
        guard frame.count <= FrameLayout.maximumFrameSize else { throw .messageTooLarge(size: frame.count) }
        return frame
    }

    public func encode(id: UInt64, payload: [UInt8]) throws(MessageCodecError) -> [UInt8] {
        try encode(Message(id: id, payload: payload))
    }

    /// The message in a received frame. With snappy on, the declared decompressed size is
    /// refused above 16 MiB before anything is decompressed or allocated.
    public func decode(_ frameData: [UInt8]) throws(MessageCodecError) -> Message {
        let (id, idLength) = try Self.splitMessageID(frameData)
        let rest = Array(frameData[idLength...])
        guard compresses(id) else { return Message(id: id, payload: rest) }
        do {
            return Message(id: id, payload: try Snappy.decompress(rest, limit: BaseProtocol.maximumDecompressedSize))
        } catch {
            throw .snappy(error)
        }
    }

    private func compresses(_ id: UInt64) -> Bool {
        snappyEnabled && id != BaseProtocol.MessageID.hello
    }

    /// Reads the leading RLP unsigned integer without decoding anything after it (the payload
    /// may be large, or compressed and so not RLP at all): go-ethereum's rlp.SplitUint64 rules.
    static func splitMessageID(_ frame: [UInt8]) throws(MessageCodecError) -> (id: UInt64, length: Int) {
        guard let first = frame.first else { throw .invalidMessageID }
        if first < 0x80 { return (UInt64(first), 1) }
        // A string of 0..8 bytes: 0x80..0x88. Lists and longer strings are not message ids.
        let count = Int(first) - 0x80
        guard count <= 8, frame.count > count else { throw .invalidMessageID }
        if count == 0 { return (0, 1) }
        // Canonical: no leading zero byte, and a single byte below 0x80 must encode as itself.
        guard frame[1] != 0, count > 1 || frame[1] >= 0x80 else { throw .invalidMessageID }
        var id: UInt64 = 0
        for byte in frame[1...count] { id = id << 8 | UInt64(byte) }
        return (id, 1 + count)
    }
}
