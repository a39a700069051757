import CSecp256k1

/// A secp256k1 private key: 32 bytes, big-endian, in 1..<n (checked on construction).
///
/// Its `description` never prints the key, so a stray `print` or log interpolation cannot leak it.
public struct PrivateKey: Sendable, CustomStringConvertible {
    public static let length = 32

    /// The 32 big-endian bytes of the scalar.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(Secp256k1Error) {
        guard bytes.count == Self.length else { throw .privateKeyWrongLength(bytes.count) }
        guard secp256k1_ec_seckey_verify(SharedContext.shared.pointer, bytes) == 1 else {
            throw .privateKeyOutOfRange
        }
        self.bytes = bytes
    }

    /// A fresh key from the system CSPRNG. A random 32-byte string is out of range with
    /// probability about 2^-128, so the retry loop is a formality.
    public static func generate() -> PrivateKey {
        while true {
            if let key = try? PrivateKey(bytes: SecureRandom.bytes(length)) { return key }
        }
    }

    /// The matching public key (point multiplication, not cached: keys are small values and
    /// callers that need it often should keep the result).
    public var publicKey: PublicKey {
        var point = secp256k1_pubkey()
        let ok = secp256k1_ec_pubkey_create(SharedContext.shared.pointer, &point, bytes)
        // Cannot fail: the scalar was range-checked when this value was made.
        precondition(ok == 1, "secp256k1: public key creation failed for a verified key")
        return PublicKey(point: point)
    }

    public var description: String { "PrivateKey(<redacted>)" }
}
