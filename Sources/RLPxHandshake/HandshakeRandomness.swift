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

    /// Fresh values from the system CSPRNG, drawn in one getrandom call (both keys, nonce, IV
    /// and padding: 122 bytes) rather than one per value: every responder handshake makes this
    /// call, and a syscall costs about what a thousand bytes of its ChaCha20 output do.
    public static func system() -> HandshakeRandomness {
        let keyLength = PrivateKey.length
        let random = SecureRandom.bytes(2 * keyLength + WireSize.nonce + 16 + 2)
        var at = 0
        func take(_ n: Int) -> [UInt8] { defer { at += n }; return Array(random[at..<(at + n)]) }
        // A random 32-byte string is not a valid key with probability about 2^-128; a fresh
        // draw replaces it then.
        let ephemeralKey = (try? PrivateKey(bytes: take(keyLength))) ?? .generate()
        let eciesKey = (try? PrivateKey(bytes: take(keyLength))) ?? .generate()
        let nonce = take(WireSize.nonce)
        let iv = take(16)
        // Two bytes modulo 100: a bias below 1 % between padding lengths, which only vary the
        // packet length (go-ethereum uses math/rand here, not a CSPRNG at all).
        let draw = Int(random[at]) << 8 | Int(random[at + 1])
        let padding = paddingRange.lowerBound + draw % paddingRange.count
        return HandshakeRandomness(ephemeralKey: ephemeralKey, nonce: nonce, paddingLength: padding,
                                   eciesKey: eciesKey, eciesIV: iv)
    }
}
