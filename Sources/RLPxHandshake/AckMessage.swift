import RLP
import Secp256k1

/// The recipient's answer (devp2p rlpx.md): its ephemeral public key and nonce.
///
/// EIP-8 body: `[recipient-ephemeral-pubk, recipient-nonce, ack-vsn, ...]`.
public struct AckMessage: Sendable, Equatable {
    public var ephemeralPublicKey: PublicKey
    /// 32 bytes.
    public var recipientNonce: [UInt8]
    /// The ack-vsn field; nil for the legacy format.
    public var version: UInt64?
    public var extraElements: [RLPItem]

    public init(ephemeralPublicKey: PublicKey, recipientNonce: [UInt8], version: UInt64? = 4, extraElements: [RLPItem] = []) {
        self.ephemeralPublicKey = ephemeralPublicKey
        self.recipientNonce = recipientNonce
        self.version = version
        self.extraElements = extraElements
    }

    public func eip8Body() -> [UInt8] {
        RLP.encode(.list([.bytes(ephemeralPublicKey.raw64), .bytes(recipientNonce), .uint(version ?? WireSize.version)]
                         + extraElements))
    }

    /// The 97-byte legacy plaintext.
    public func legacyPlaintext() -> [UInt8] {
        ephemeralPublicKey.raw64 + recipientNonce + [0]   // token flag 0: no session token
    }

    public static func decodeEIP8(_ plaintext: [UInt8]) throws(HandshakeError) -> AckMessage {
        let fields = try EIP8Body.fields(plaintext, required: ["recipient ephemeral public key", "recipient nonce", "version"])
        return AckMessage(ephemeralPublicKey: try EIP8Body.publicKey(fields[0]),
                          recipientNonce: try EIP8Body.bytes(fields[1], "recipient nonce", WireSize.nonce),
                          version: try EIP8Body.version(fields[2]),
                          extraElements: Array(fields.dropFirst(3)))
    }

    public static func decodeLegacy(_ plaintext: [UInt8]) throws(HandshakeError) -> AckMessage {
        guard plaintext.count == WireSize.legacyAckPlaintext else { throw .invalidField("legacy ack length \(plaintext.count)") }
        let key: PublicKey
        do { key = try PublicKey(bytes: Array(plaintext[0..<WireSize.publicKey])) } catch { throw .invalidPublicKey(error) }
        let nonce = Array(plaintext[WireSize.publicKey..<(WireSize.publicKey + WireSize.nonce)])
        return AckMessage(ephemeralPublicKey: key, recipientNonce: nonce, version: nil)
    }
}
