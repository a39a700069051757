import Keccak
import Secp256k1

/// The listening side of the RLPx handshake, without I/O: it reads the auth from whatever bytes
/// the caller has buffered and answers with an ack in the same format (EIP-8 auth -> EIP-8 ack,
/// legacy auth -> legacy ack, as go-ethereum did while it accepted both).
public struct HandshakeResponder: Sendable {
    private let staticKey: PrivateKey
    private let randomness: HandshakeRandomness
    private var reader = HandshakePacketReader(expecting: .auth)
    private var finished = false

    public init(staticKey: PrivateKey, randomness: HandshakeRandomness = .system()) {
        self.staticKey = staticKey
        self.randomness = randomness
    }

    public mutating func receiveAuth(_ buffered: [UInt8]) throws(HandshakeError) -> HandshakeProgress<ResponderOutcome> {
        guard !finished else { throw .alreadyFinished }
        switch try reader.read(buffered, key: staticKey) {
        case .needMore(let n):
            return .needMore(n)
        case .done(let packet, let consumed):
            finished = true
            return .done(try respond(to: packet), consumed: consumed)
        }
    }

    private func respond(to packet: HandshakePacket) throws(HandshakeError) -> ResponderOutcome {
        let (auth, ephemeralKeyHash) = try AuthMessage.decode(packet)

        // The initiator signed static-shared-secret ^ nonce with its ephemeral key; recovering
        // the signer gives that ephemeral key.
        let staticShared: [UInt8]
        do { staticShared = try ecdh(privateKey: staticKey, publicKey: auth.initiatorPublicKey) } catch { throw .keyAgreement(error) }
        let remoteEphemeral: PublicKey
        do {
            remoteEphemeral = try recover(signature: auth.signature, hash: xor(staticShared, auth.initiatorNonce))
        } catch {
            throw .invalidSignature(error)
        }
        if let hash = ephemeralKeyHash, hash != Keccak256.hash(remoteEphemeral.raw64) {
            throw .ephemeralKeyHashMismatch
        }

        let ack = AckMessage(ephemeralPublicKey: randomness.ephemeralKey.publicKey, recipientNonce: randomness.nonce,
                             version: WireSize.version)
        let ackPacket: [UInt8]
        switch packet.format {
        case .eip8:
            ackPacket = try HandshakePacketWriter.seal(eip8Body: ack.eip8Body(), paddingLength: randomness.paddingLength,
                                                       to: auth.initiatorPublicKey, randomness: randomness)
        case .legacy:
            ackPacket = try HandshakePacketWriter.seal(legacyPlaintext: ack.legacyPlaintext(),
                                                       to: auth.initiatorPublicKey, randomness: randomness)
        }
        let secrets = try HandshakeSecrets.derive(role: .recipient, ephemeralKey: randomness.ephemeralKey,
                                                  remoteEphemeralKey: remoteEphemeral,
                                                  initiatorNonce: auth.initiatorNonce, recipientNonce: randomness.nonce,
                                                  authPacket: packet.bytes, ackPacket: ackPacket)
        let result = HandshakeResult(secrets: secrets, remotePublicKey: auth.initiatorPublicKey, remoteFormat: packet.format,
                                     remoteVersion: auth.version, remoteEphemeralPublicKey: remoteEphemeral,
                                     remoteNonce: auth.initiatorNonce)
        return ResponderOutcome(ackPacket: ackPacket, result: result)
    }
}
