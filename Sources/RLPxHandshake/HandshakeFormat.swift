/// The two wire formats of auth and ack packets.
public enum HandshakeFormat: Sendable, Equatable {
    /// EIP-8: 2-byte size prefix || ECIES(RLP list || padding), the prefix authenticated.
    case eip8
    /// Pre-EIP-8 (RLPx v4): a bare ECIES message of fixed size (auth 307, ack 210 bytes).
    case legacy
}

/// Sizes fixed by the protocol (go-ethereum `p2p/rlpx`: sigLen, pubLen, shaLen, authMsgLen, ...).
enum WireSize {
    static let signature = 65
    static let publicKey = 64
    static let nonce = 32
    /// sig || keccak256(ephemeral-pubk) || pubk || nonce || token-flag
    static let legacyAuthPlaintext = signature + 32 + publicKey + nonce + 1        // 194
    /// ephemeral-pubk || nonce || token-flag
    static let legacyAckPlaintext = publicKey + nonce + 1                          // 97
    static let legacyAuthPacket = legacyAuthPlaintext + ECIES.overhead             // 307
    static let legacyAckPacket = legacyAckPlaintext + ECIES.overhead               // 210
    static let eip8Prefix = 2

    /// The most bytes a handshake packet's size prefix may announce. go-ethereum PR 30029
    /// ("2KB maximum size for handshake messages") rejects larger ones; valid packets are
    /// about 400-500 bytes, so this leaves room for forward-compatible extra fields.
    static let maxPacketBody = 2048
    /// An EIP-8 body must hold at least the ECIES overhead plus one plaintext byte.
    static let minPacketBody = ECIES.overhead + 1

    /// The version both messages carry (devp2p rlpx.md: auth-vsn = ack-vsn = 4).
    static let version: UInt64 = 4
}
