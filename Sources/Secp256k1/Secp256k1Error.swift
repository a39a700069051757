/// Why a key, signature or curve operation was refused. Every case is a property of the input
/// (or, for `randomnessUnavailable`, of the system), never a programming error.
public enum Secp256k1Error: Error, Equatable, Sendable, CustomStringConvertible {
    /// A private key must be exactly 32 bytes.
    case privateKeyWrongLength(Int)
    /// Zero, or not below the group order n.
    case privateKeyOutOfRange
    /// Public keys are 64 (raw x||y), 65 (0x04-prefixed) or 33 (compressed) bytes.
    case publicKeyWrongLength(Int)
    /// The bytes do not describe a point on secp256k1 (or carry an unknown prefix byte).
    case publicKeyNotOnCurve
    /// Message hashes for ECDSA are exactly 32 bytes.
    case hashWrongLength(Int)
    /// Recoverable signatures are 65 bytes r||s||v.
    case signatureWrongLength(Int)
    /// The recovery id v must be 0 or 1 (go-ethereum's form; 27/28 is Ethereum transaction form).
    case invalidRecoveryID(UInt8)
    /// r or s is zero or not below the group order.
    case signatureOutOfRange
    /// No public key is consistent with this signature and hash.
    case recoveryFailed
    /// ECDH produced no shared point (cannot happen for a valid key pair; kept for safety).
    case ecdhFailed
    /// libsecp256k1 refused to sign (only for an invalid key, which `PrivateKey` excludes).
    case signingFailed

    public var description: String {
        switch self {
        case .privateKeyWrongLength(let n): return "secp256k1: private key is \(n) bytes, want 32"
        case .privateKeyOutOfRange: return "secp256k1: private key is zero or not below the curve order"
        case .publicKeyWrongLength(let n): return "secp256k1: public key is \(n) bytes, want 64, 65 or 33"
        case .publicKeyNotOnCurve: return "secp256k1: public key is not a point on the curve"
        case .hashWrongLength(let n): return "secp256k1: hash is \(n) bytes, want 32"
        case .signatureWrongLength(let n): return "secp256k1: signature is \(n) bytes, want 65"
        case .invalidRecoveryID(let v): return "secp256k1: signature recovery id is \(v), want 0 or 1"
        case .signatureOutOfRange: return "secp256k1: signature r or s is zero or not below the curve order"
        case .recoveryFailed: return "secp256k1: no public key recovers from this signature"
        case .ecdhFailed: return "secp256k1: ECDH failed"
        case .signingFailed: return "secp256k1: signing failed"
        }
    }
}
