import Secp256k1

/// The dialing side of the RLPx handshake, without I/O: it makes the auth packet, then reads the
/// ack from whatever bytes the caller has buffered.
///
///     var hs = try HandshakeInitiator(staticKey: key, remotePublicKey: remote)
///     send(hs.authPacket)
///     loop { switch try hs.receiveAck(buffer) { case .needMore: read more; case .done(let r, let n): ... } }
public struct HandshakeInitiator: Sendable {
    /// The packet to send first (format chosen at init; EIP-8 unless a test asks for legacy).
    public let authPacket: [UInt8]
    public let format: HandshakeFormat

    private let staticKey: PrivateKey
    private let remotePublicKey: PublicKey
    private let ephemeralKey: PrivateKey
    private let nonce: [UInt8]
    private var reader = HandshakePacketReader(expecting: .ack)
    private var finished = false

    public init(staticKey: PrivateKey, remotePublicKey: PublicKey, format: HandshakeFormat = .eip8,
                randomness: HandshakeRandomness = .system()) throws(HandshakeError) {
        self.staticKey = staticKey
        self.remotePublicKey = remotePublicKey
        self.format = format
        ephemeralKey = randomness.ephemeralKey
        nonce = randomness.nonce

        // sig = sign(ephemeral key, static-shared-secret ^ initiator-nonce): proves we hold the
        // static key (only its holder knows the static shared secret) and binds the ephemeral key.
        let signature: [UInt8]
        do {
            let staticShared = try ecdh(privateKey: staticKey, publicKey: remotePublicKey)
            signature = try sign(hash: xor(staticShared, nonce), key: ephemeralKey)
        } catch {
            throw .keyAgreement(error)
        }
        let auth = AuthMessage(signature: signature, initiatorPublicKey: staticKey.publicKey, initiatorNonce: nonce,
                               version: WireSize.version)
        switch format {
        case .eip8:
            authPacket = try HandshakePacketWriter.seal(eip8Body: auth.eip8Body(), paddingLength: randomness.paddingLength,
                                                        to: remotePublicKey, randomness: randomness)
        case .legacy:
            authPacket = try HandshakePacketWriter.seal(legacyPlaintext: auth.legacyPlaintext(ephemeralPublicKey: ephemeralKey.publicKey),
                                                        to: remotePublicKey, randomness: randomness)
        }
    }

    /// Reads the ack (EIP-8 or legacy) from the start of `buffered`.
    public mutating func receiveAck(_ buffered: [UInt8]) throws(HandshakeError) -> HandshakeProgress<HandshakeResult> {
        guard !finished else { throw .alreadyFinished }
        switch try reader.read(buffered, key: staticKey) {
        case .needMore(let n):
            return .needMore(n)
        case .done(let packet, let consumed):
            finished = true
            let ack = try AckMessage.decode(packet)
            let secrets = try HandshakeSecrets.derive(role: .initiator, ephemeralKey: ephemeralKey,
                                                      remoteEphemeralKey: ack.ephemeralPublicKey,
                                                      initiatorNonce: nonce, recipientNonce: ack.recipientNonce,
                                                      authPacket: authPacket, ackPacket: packet.bytes)
            let result = HandshakeResult(secrets: secrets, remotePublicKey: remotePublicKey, remoteFormat: packet.format,
                                         remoteVersion: ack.version, remoteEphemeralPublicKey: ack.ephemeralPublicKey,
                                         remoteNonce: ack.recipientNonce)
            return .done(result, consumed: consumed)
        }
    }
}
