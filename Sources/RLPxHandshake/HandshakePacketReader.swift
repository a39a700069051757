import Secp256k1

/// What an incremental read of the caller's buffer found.
public enum HandshakeProgress<Value: Sendable>: Sendable {
    /// Nothing decided yet: at least this many more bytes must arrive (a lower bound; call again
    /// with the longer buffer).
    case needMore(Int)
    /// A complete packet was read from the start of the buffer; it used `consumed` bytes and any
    /// bytes after them belong to the next layer (the first RLPx frame).
    case done(Value, consumed: Int)
}

/// One handshake packet as it arrived, opened with our static key.
public struct HandshakePacket: Sendable, Equatable {
    public let format: HandshakeFormat
    /// The whole packet as on the wire, size prefix included: what the MAC states are seeded with.
    public let bytes: [UInt8]
    /// The decrypted body (for EIP-8: RLP list plus padding).
    public let plaintext: [UInt8]
}

/// Finds the end of one auth or ack packet in a growing buffer and opens it.
///
/// A legacy packet is a bare ECIES message, so its first byte is 0x04 (the ephemeral key prefix)
/// and its size is fixed. An EIP-8 packet starts with a 2-byte size; because of the 2 KiB cap its
/// first byte is at most 0x08, and it is 0x04 only for sizes 1024...1279, whose packets are
/// longer than either legacy size. So: a first byte other than 0x04 is EIP-8; with 0x04 we wait for
/// the legacy size and try to open it as legacy (the ECIES tag decides), and otherwise read it as
/// EIP-8. Unlike go-ethereum's old reader, which always waited for the legacy size first, this never
/// waits for more bytes than the packet has, so a short EIP-8 packet cannot stall us.
public struct HandshakePacketReader: Sendable {
    public enum Expecting: Sendable { case auth, ack }

    private let legacySize: Int
    /// Set once a 0x04-prefixed buffer failed to open as legacy, so each retry does not repeat the ECDH.
    private var legacyRuledOut = false

    public init(expecting: Expecting) {
        legacySize = expecting == .auth ? WireSize.legacyAuthPacket : WireSize.legacyAckPacket
    }

    public mutating func read(_ buffered: [UInt8], key: PrivateKey) throws(HandshakeError) -> HandshakeProgress<HandshakePacket> {
        guard let first = buffered.first else { return .needMore(WireSize.eip8Prefix) }

        if first == 0x04 && !legacyRuledOut {
            if buffered.count < legacySize { return .needMore(legacySize - buffered.count) }
            let packet = Array(buffered[0..<legacySize])
            if let plaintext = try? ECIES.decrypt(packet, with: key) {
                return .done(HandshakePacket(format: .legacy, bytes: packet, plaintext: plaintext), consumed: legacySize)
            }
            legacyRuledOut = true
        }

        if buffered.count < WireSize.eip8Prefix { return .needMore(WireSize.eip8Prefix - buffered.count) }
        let size = Int(buffered[0]) << 8 | Int(buffered[1])
        // Both bounds are checked on the prefix alone, before waiting for or copying the body.
        if size > WireSize.maxPacketBody { throw .packetTooLarge(size: size, limit: WireSize.maxPacketBody) }
        if size < WireSize.minPacketBody { throw .packetTooSmall(size: size, minimum: WireSize.minPacketBody) }
        let total = WireSize.eip8Prefix + size
        if buffered.count < total { return .needMore(total - buffered.count) }

        let packet = Array(buffered[0..<total])
        let plaintext: [UInt8]
        do {
            plaintext = try ECIES.decrypt(Array(packet[WireSize.eip8Prefix...]), with: key,
                                          sharedMACData: Array(packet[0..<WireSize.eip8Prefix]))
        } catch {
            throw .ecies(error)
        }
        return .done(HandshakePacket(format: .eip8, bytes: packet, plaintext: plaintext), consumed: total)
    }
}

extension AuthMessage {
    /// Decodes an opened auth packet of either format. For legacy, also returns the
    /// keccak256(ephemeral-pubk) field the caller checks after recovering the key.
    static func decode(_ packet: HandshakePacket) throws(HandshakeError) -> (AuthMessage, ephemeralKeyHash: [UInt8]?) {
        switch packet.format {
        case .eip8: return (try decodeEIP8(packet.plaintext), nil)
        case .legacy:
            let (message, hash) = try decodeLegacy(packet.plaintext)
            return (message, hash)
        }
    }
}

extension AckMessage {
    /// Decodes an opened ack packet of either format.
    public static func decode(_ packet: HandshakePacket) throws(HandshakeError) -> AckMessage {
        switch packet.format {
        case .eip8: return try decodeEIP8(packet.plaintext)
        case .legacy: return try decodeLegacy(packet.plaintext)
        }
    }
}

/// Seals a plaintext into a packet of the given format.
enum HandshakePacketWriter {
    static func seal(eip8Body body: [UInt8], paddingLength: Int, to remote: PublicKey,
                     randomness: HandshakeRandomness) throws(HandshakeError) -> [UInt8] {
        // go-ethereum pads with zeros: the padding is encrypted, so its content does not matter,
        // only that EIP-8 packets are longer than legacy ones and vary in length.
        let plaintext = body + [UInt8](repeating: 0, count: paddingLength)
        let size = plaintext.count + ECIES.overhead
        precondition(size <= WireSize.maxPacketBody, "own handshake packet over the 2 KiB limit")
        let prefix = [UInt8(size >> 8), UInt8(size & 0xff)]
        do {
            return prefix + (try ECIES.encrypt(plaintext, to: remote, sharedMACData: prefix,
                                               ephemeralKey: randomness.eciesKey, iv: randomness.eciesIV))
        } catch {
            throw .ecies(error)
        }
    }

    static func seal(legacyPlaintext plaintext: [UInt8], to remote: PublicKey,
                     randomness: HandshakeRandomness) throws(HandshakeError) -> [UInt8] {
        do {
            return try ECIES.encrypt(plaintext, to: remote, ephemeralKey: randomness.eciesKey, iv: randomness.eciesIV)
        } catch {
            throw .ecies(error)
        }
    }
}
