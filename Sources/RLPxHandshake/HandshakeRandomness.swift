import Secp256k1

/// Every random choice one side of a handshake makes. Production code uses `system()`; tests
/// inject fixed values to reproduce published vectors.
public struct HandshakeRandomness: Sendable {
    /// The ephemeral key whose ECDH with the remote's ephemeral key makes the session secrets.
    public var ephemeralKey: PrivateKey
    /// This side's 32-byte nonce.
    public var nonce: [UInt8]
    /// Zero bytes appended to an EIP-8 body (ignored for legacy).
    public var paddingLength: Int
    /// ECIES's own one-time key and IV for sealing the packet.
    public var eciesKey: PrivateKey
    public var eciesIV: [UInt8]

    /// go-ethereum's `sealEIP8`: `mrand.Intn(100) + 100` bytes, i.e. 100...199. At least 100 so an
    /// EIP-8 packet is distinguishable by length from a legacy one (EIP-8).
    public static let paddingRange = 100...199

    public init(ephemeralKey: PrivateKey, nonce: [UInt8], paddingLength: Int,
                eciesKey: PrivateKey = .generate(), eciesIV: [UInt8] = SecureRandom.bytes(16)) {
        precondition(nonce.count == WireSize.nonce, "handshake nonce is 32 bytes")
        precondition(eciesIV.count == 16, "ECIES iv is 16 bytes")
        precondition(paddingLength >= 0 && paddingLength <= 1024, "padding beyond any sensible size")
        self.ephemeralKey = ephemeralKey
        self.nonce = nonce
        self.paddingLength = paddingLength
        self.eciesKey = eciesKey
        self.eciesIV = eciesIV
    }

    /// Fresh values from the system CSPRNG.
    public static func system() -> HandshakeRandomness {
        var generator = SystemRandomNumberGenerator()
        return HandshakeRandomness(ephemeralKey: .generate(), nonce: SecureRandom.bytes(WireSize.nonce),
                                   paddingLength: Int.random(in: paddingRange, using: &generator))
    }
}
