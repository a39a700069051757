/// Why an ECIES message (as RLPx uses it) could not be opened.
public enum ECIESError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Shorter than the fixed overhead of 0x04 || R(64) || iv(16) || tag(32).
    case tooShort(Int)
    /// R must be an uncompressed point (0x04 prefix); RLPx never sends another form.
    case unsupportedKeyPrefix(UInt8)
    /// R is not a point on secp256k1.
    case invalidEphemeralKey
    /// The HMAC-SHA-256 tag does not match: wrong recipient key, wrong shared MAC data, or tampering.
    case authenticationFailed
    /// ECDH with R failed (cannot happen for a validated point; kept so nothing traps).
    case keyAgreementFailed

    public var description: String {
        switch self {
        case .tooShort(let n): return "ecies: message is \(n) bytes, shorter than the \(ECIES.overhead)-byte overhead"
        case .unsupportedKeyPrefix(let b): return "ecies: ephemeral key prefix 0x\(String(b, radix: 16)), want 0x04"
        case .invalidEphemeralKey: return "ecies: ephemeral key is not a point on secp256k1"
        case .authenticationFailed: return "ecies: message authentication failed (wrong key or corrupted message)"
        case .keyAgreementFailed: return "ecies: key agreement failed"
        }
    }
}
