import RLP
import Secp256k1

/// Why an RLPx handshake failed. Every case describes the remote's bytes (or a misuse of the
/// state machine); none of them traps.
public enum HandshakeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The size prefix (or the buffered bytes) announce a packet over the limit; checked before
    /// the body is awaited or allocated.
    case packetTooLarge(size: Int, limit: Int)
    /// The size prefix announces fewer bytes than the ECIES overhead alone.
    case packetTooSmall(size: Int, minimum: Int)
    /// The packet did not decrypt with our static key.
    case ecies(ECIESError)
    /// The decrypted body is not RLP.
    case malformedRLP(RLPError)
    /// The body is RLP but not a list.
    case bodyNotAList
    /// The body list ends before a required field.
    case missingField(String)
    /// A field has the wrong type or size (signature 65, public key 64, nonce 32 bytes).
    case invalidField(String)
    /// A public key in the body is not a point on the curve.
    case invalidPublicKey(Secp256k1Error)
    /// The auth signature does not recover to an ephemeral key.
    case invalidSignature(Secp256k1Error)
    /// A legacy auth's keccak256(ephemeral key) field does not match the recovered key.
    case ephemeralKeyHashMismatch
    /// ECDH or signing failed on our side (should be impossible with validated keys).
    case keyAgreement(Secp256k1Error)
    /// `receive` called after the handshake already produced its result.
    case alreadyFinished

    public var description: String {
        switch self {
        case .packetTooLarge(let s, let l): return "rlpx handshake: packet of \(s) bytes exceeds the \(l)-byte limit"
        case .packetTooSmall(let s, let m): return "rlpx handshake: packet of \(s) bytes is below the \(m)-byte minimum"
        case .ecies(let e): return "rlpx handshake: cannot decrypt packet: \(e)"
        case .malformedRLP(let e): return "rlpx handshake: body is not valid RLP: \(e)"
        case .bodyNotAList: return "rlpx handshake: body is not an RLP list"
        case .missingField(let f): return "rlpx handshake: body has no \(f)"
        case .invalidField(let f): return "rlpx handshake: invalid \(f)"
        case .invalidPublicKey(let e): return "rlpx handshake: bad public key: \(e)"
        case .invalidSignature(let e): return "rlpx handshake: bad auth signature: \(e)"
        case .ephemeralKeyHashMismatch: return "rlpx handshake: legacy auth ephemeral-key hash does not match its signature"
        case .keyAgreement(let e): return "rlpx handshake: key agreement failed: \(e)"
        case .alreadyFinished: return "rlpx handshake: already finished"
        }
    }
}
