import Crypto
import _CryptoExtras
import Secp256k1

/// ECIES exactly as RLPx uses it (go-ethereum `crypto/ecies` with the secp256k1 + AES-128 +
/// SHA-256 parameters; devp2p rlpx.md "ECIES Encryption"):
///
///     message = 0x04 || R (64) || iv (16) || AES-128-CTR(kE, iv, plaintext) || tag (32)
///     S = x of ECDH(r, recipient);  kE || kM' = ConcatKDF-SHA256(S, 32);  kM = SHA-256(kM')
///     tag = HMAC-SHA-256(kM, iv || ciphertext || sharedMACData)
///
/// The shared MAC data is authenticated but not sent; EIP-8 handshakes pass the 2-byte size prefix.
public enum ECIES {
    /// Bytes added to a plaintext: R (65) + iv (16) + tag (32). go-ethereum's `eciesOverhead`.
    public static let overhead = 65 + 16 + 32

    static let keyLength = 16   // AES-128
    static let ivLength = 16

    /// Encrypts `plaintext` to `recipient`. `ephemeralKey` and `iv` are random unless a test
    /// injects them to reproduce bytes.
    public static func encrypt(_ plaintext: [UInt8], to recipient: PublicKey, sharedMACData: [UInt8] = [],
                               ephemeralKey: PrivateKey = .generate(),
                               iv: [UInt8] = SecureRandom.bytes(16)) throws(ECIESError) -> [UInt8] {
        precondition(iv.count == ivLength, "ECIES iv is 16 bytes")
        guard let shared = try? ecdh(privateKey: ephemeralKey, publicKey: recipient) else {
            throw .keyAgreementFailed
        }
        let (encryptionKey, macKey) = deriveKeys(sharedSecret: shared)
        let ciphertext = aes128CTR(plaintext, key: encryptionKey, iv: iv)
        var out = ephemeralKey.publicKey.uncompressed65
        out.reserveCapacity(overhead + plaintext.count)
        out += iv
        out += ciphertext
        out += Digests.hmacSHA256(key: macKey, Array(out[65...]), sharedMACData)
        return out
    }

    /// Opens a message sealed to `key`; the tag is checked (in constant time) before anything is
    /// decrypted.
    public static func decrypt(_ message: [UInt8], with key: PrivateKey,
                               sharedMACData: [UInt8] = []) throws(ECIESError) -> [UInt8] {
        guard message.count >= overhead else { throw .tooShort(message.count) }
        guard message[0] == 0x04 else { throw .unsupportedKeyPrefix(message[0]) }
        guard let ephemeral = try? PublicKey(bytes: Array(message[0..<65])) else { throw .invalidEphemeralKey }
        guard let shared = try? ecdh(privateKey: key, publicKey: ephemeral) else { throw .keyAgreementFailed }
        let (encryptionKey, macKey) = deriveKeys(sharedSecret: shared)

        let tagStart = message.count - 32
        let expected = Digests.hmacSHA256(key: macKey, Array(message[65..<tagStart]), sharedMACData)
        guard Digests.constantTimeEqual(message[tagStart...], expected) else { throw .authenticationFailed }
        let iv = Array(message[65..<(65 + ivLength)])
        return aes128CTR(Array(message[(65 + ivLength)..<tagStart]), key: encryptionKey, iv: iv)
    }

    /// kE (16 bytes) and kM = SHA-256 of the next 16 KDF bytes.
    static func deriveKeys(sharedSecret: [UInt8]) -> (encryption: [UInt8], mac: [UInt8]) {
        let k = ConcatKDF.sha256(z: sharedSecret, length: 2 * keyLength)
        return (Array(k[0..<keyLength]), Digests.sha256(k[keyLength...]))
    }

    /// AES-128-CTR with a full 128-bit initial counter block (the IV), as go-ethereum's
    /// `cipher.NewCTR`. Encryption and decryption are the same operation.
    static func aes128CTR(_ input: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8] {
        // Neither call can fail: the key is 16 bytes and the nonce 16 bytes by construction.
        do {
            let nonce = try AES._CTR.Nonce(nonceBytes: iv)
            return Array(try AES._CTR.encrypt(input, using: SymmetricKey(data: key), nonce: nonce))
        } catch {
            preconditionFailure("AES-128-CTR with fixed-size key and iv failed: \(error)")
        }
    }
}
