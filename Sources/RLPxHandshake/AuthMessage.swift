import Keccak
import RLP
import Secp256k1

/// The initiator's first message (devp2p rlpx.md): its signature made with the ephemeral key,
/// its static public key and its nonce.
///
/// EIP-8 body: `[sig, initiator-pubk, initiator-nonce, auth-vsn, ...]`; extra list elements
/// (forward compatibility) are kept in `extraElements` and otherwise ignored.
public struct AuthMessage: Sendable, Equatable {
    /// 65 bytes r || s || v over (static-shared-secret XOR initiator-nonce) with the ephemeral key.
    public var signature: [UInt8]
    public var initiatorPublicKey: PublicKey
    /// 32 bytes.
    public var initiatorNonce: [UInt8]
    /// The auth-vsn field; nil for the legacy format, which has none.
    public var version: UInt64?
    /// List elements after the version, as decoded (EIP-8 requires ignoring them).
    public var extraElements: [RLPItem]

    public init(signature: [UInt8], initiatorPublicKey: PublicKey, initiatorNonce: [UInt8],
                version: UInt64? = 4, extraElements: [RLPItem] = []) {
        self.signature = signature
        self.initiatorPublicKey = initiatorPublicKey
        self.initiatorNonce = initiatorNonce
        self.version = version
        self.extraElements = extraElements
    }

    /// The RLP list of the EIP-8 body, without padding.
    public func eip8Body() -> [UInt8] {
        var items: [RLPItem] = [.bytes(signature), .bytes(initiatorPublicKey.raw64), .bytes(initiatorNonce),
                                .uint(version ?? WireSize.version)]
        items += extraElements
        return RLP.encode(.list(items))
    }

    /// The 194-byte legacy plaintext; it also carries keccak256 of the ephemeral public key.
    public func legacyPlaintext(ephemeralPublicKey: PublicKey) -> [UInt8] {
        var out = signature
        out += Keccak256.hash(ephemeralPublicKey.raw64)
        out += initiatorPublicKey.raw64
        out += initiatorNonce
        out.append(0)   // token flag: 0 = no session token (resumption was never used)
        return out
    }

    /// Decodes an EIP-8 plaintext: one RLP list, then padding that is ignored.
    public static func decodeEIP8(_ plaintext: [UInt8]) throws(HandshakeError) -> AuthMessage {
        let fields = try EIP8Body.fields(plaintext, required: ["signature", "initiator public key", "initiator nonce", "version"])
        return AuthMessage(signature: try EIP8Body.bytes(fields[0], "signature", WireSize.signature),
                           initiatorPublicKey: try EIP8Body.publicKey(fields[1]),
                           initiatorNonce: try EIP8Body.bytes(fields[2], "initiator nonce", WireSize.nonce),
                           version: try EIP8Body.version(fields[3]),
                           extraElements: Array(fields.dropFirst(4)))
    }

    /// Decodes a legacy plaintext, returning the message and the keccak256(ephemeral-pubk) field.
    public static func decodeLegacy(_ plaintext: [UInt8]) throws(HandshakeError) -> (AuthMessage, ephemeralKeyHash: [UInt8]) {
        guard plaintext.count == WireSize.legacyAuthPlaintext else { throw .invalidField("legacy auth length \(plaintext.count)") }
        var at = 0
        func take(_ n: Int) -> [UInt8] { defer { at += n }; return Array(plaintext[at..<(at + n)]) }
        let signature = take(WireSize.signature)
        let hash = take(32)
        let key: PublicKey
        do { key = try PublicKey(bytes: take(WireSize.publicKey)) } catch { throw .invalidPublicKey(error) }
        let nonce = take(WireSize.nonce)
        return (AuthMessage(signature: signature, initiatorPublicKey: key, initiatorNonce: nonce, version: nil), hash)
    }
}

/// Shared field readers for the EIP-8 auth and ack bodies.
enum EIP8Body {
    /// The list at the start of `plaintext` (trailing padding ignored), with at least the named fields.
    static func fields(_ plaintext: [UInt8], required: [String]) throws(HandshakeError) -> [RLPItem] {
        let item: RLPItem
        do { (item, _) = try RLP.decodePrefix(plaintext) } catch { throw .malformedRLP(error) }
        guard case .list(let fields) = item else { throw .bodyNotAList }
        if fields.count < required.count { throw .missingField(required[fields.count]) }
        return fields
    }

    static func bytes(_ item: RLPItem, _ name: String, _ length: Int) throws(HandshakeError) -> [UInt8] {
        guard case .bytes(let b) = item, b.count == length else { throw .invalidField("\(name) (want \(length) bytes)") }
        return b
    }

    static func publicKey(_ item: RLPItem) throws(HandshakeError) -> PublicKey {
        let raw = try bytes(item, "public key", WireSize.publicKey)
        do { return try PublicKey(bytes: raw) } catch { throw .invalidPublicKey(error) }
    }

    /// go-ethereum decodes the version as a uint and then ignores its value; so do we.
    static func version(_ item: RLPItem) throws(HandshakeError) -> UInt64 {
        do { return try item.uintValue() } catch { throw .invalidField("version: \(error)") }
    }
}
