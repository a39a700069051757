import Secp256k1

/// The public-key operations of one responder handshake, and nothing else: the crypto bound a
/// handshake worker is measured against (ops/bench/daemon.sh, StockadeBench section c).
///
/// `perform()` makes exactly the `Secp256k1` calls `HandshakeResponder` makes for one EIP-8
/// auth, in the same order, through the same module API (same shared context, same byte
/// formats, same re-parse inside `ecdh`), on the inputs a real auth packet carries. What the
/// handshake does besides (AES-CTR, HMAC/SHA-256, the concat KDF, Keccak, RLP, copies) is left
/// out, so the time of `perform()` is a lower bound on any responder's CPU per handshake. The
/// calls, with where the handshake makes them:
///
///     1 x HandshakeRandomness.system()   the ephemeral and ECIES one-time keys (one getrandom
///                                 for them, the nonce, IV and padding; two range checks)
///     1 x PublicKey(bytes: 65)    ECIES.decrypt: the sender's one-time key R
///     1 x ecdh                    ECIES.decrypt: static key x R
///     1 x PublicKey(bytes: 64)    AuthMessage.decodeEIP8: the initiator's static key
///     1 x ecdh                    HandshakeResponder.respond: static-shared-secret
///     1 x recover                 HandshakeResponder.respond: the initiator's ephemeral key
///     1 x PrivateKey.publicKey    the ack's ephemeral public key
///     1 x ecdh                    ECIES.encrypt of the ack: one-time key x initiator key
///     1 x PrivateKey.publicKey    ECIES.encrypt: the one-time key R sent with the ack
///     1 x ecdh                    HandshakeSecrets.derive: ephemeral x remote ephemeral
///
/// Keep this in step with HandshakeResponder; RLPxHandshakeTests checks that the replay
/// reproduces the handshake's own results from the same randomness.
public struct ResponderPublicKeyWork: Sendable {
    /// The calls above in one line, for the benchmark tables.
    public static let summary = "randomness (1 getrandom, 2 key range checks), 2 key parses, 4 ECDH, 1 recover, 2 public keys derived"

    /// The results the replay computes, which the handshake computes too (for the tests).
    public struct Outputs: Sendable {
        /// Recovered from the auth's signature: `HandshakeResult.remoteEphemeralPublicKey`.
        public let remoteEphemeralKey: PublicKey
        /// Sent in the ack body.
        public let ephemeralPublicKey: PublicKey
        /// The ECIES one-time key R at the start of the sealed ack.
        public let eciesPublicKey: PublicKey
        /// ecdh(ephemeral key, remote ephemeral key): the root of the session secrets.
        public let ephemeralSharedSecret: [UInt8]
    }

    private let staticKey: PrivateKey
    /// 0x04 || x || y, as ECIES carries it.
    private let eciesSenderKey: [UInt8]
    /// x || y, as the EIP-8 auth body carries it.
    private let initiatorKey: [UInt8]
    private let signature: [UInt8]
    private let initiatorNonce: [UInt8]

    /// Opens an EIP-8 `authPacket` sealed to `staticKey` (untimed preparation) and keeps the
    /// inputs of its public-key operations. Throws what `HandshakeResponder` would throw for a
    /// packet it cannot open; legacy packets are refused with `.invalidField`.
    public init(authPacket: [UInt8], staticKey: PrivateKey) throws(HandshakeError) {
        var reader = HandshakePacketReader(expecting: .auth)
        guard case .done(let packet, _) = try reader.read(authPacket, key: staticKey) else {
            throw .invalidField("incomplete auth packet")
        }
        guard packet.format == .eip8 else { throw .invalidField("legacy auth (the replay covers EIP-8)") }
        let auth = try AuthMessage.decodeEIP8(packet.plaintext)
        self.staticKey = staticKey
        eciesSenderKey = Array(authPacket[WireSize.eip8Prefix..<(WireSize.eip8Prefix + 65)])
        initiatorKey = auth.initiatorPublicKey.raw64
        signature = auth.signature
        initiatorNonce = auth.initiatorNonce
    }

    /// The public-key operations of one responder handshake with fresh keys, drawn as the
    /// responder draws them (`HandshakeRandomness.system()`).
    @discardableResult
    public func perform() throws(Secp256k1Error) -> Outputs {
        let fresh = HandshakeRandomness.system()
        return try perform(ephemeralKey: fresh.ephemeralKey, eciesKey: fresh.eciesKey)
    }

    /// The same with the two keys given (tests: the responder's injected randomness). The key
    /// generation is then the caller's.
    public func perform(ephemeralKey: PrivateKey, eciesKey: PrivateKey) throws(Secp256k1Error) -> Outputs {
        let sender = try PublicKey(bytes: eciesSenderKey)
        _ = try ecdh(privateKey: staticKey, publicKey: sender)
        let initiator = try PublicKey(bytes: initiatorKey)
        let staticShared = try ecdh(privateKey: staticKey, publicKey: initiator)
        let remoteEphemeral = try recover(signature: signature, hash: xor(staticShared, initiatorNonce))
        let ephemeralPublic = ephemeralKey.publicKey
        _ = try ecdh(privateKey: eciesKey, publicKey: initiator)
        let eciesPublic = eciesKey.publicKey
        let shared = try ecdh(privateKey: ephemeralKey, publicKey: remoteEphemeral)
        return Outputs(remoteEphemeralKey: remoteEphemeral, ephemeralPublicKey: ephemeralPublic,
                       eciesPublicKey: eciesPublic, ephemeralSharedSecret: shared)
    }
}
