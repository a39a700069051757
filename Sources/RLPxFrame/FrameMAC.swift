import Crypto
import _CryptoExtras
import Keccak

/// One direction's running MAC (devp2p rlpx.md, "MAC"): a Keccak-256 state that absorbs every
/// header and body ciphertext, mixed with one AES-256 block encryption keyed with mac-secret.
///
///     header-mac-seed = aes(mac-secret, keccak.digest[:16]) ^ header-ciphertext
///     header-mac      = keccak.update(header-mac-seed).digest[:16]
///     keccak.update(frame-ciphertext)
///     frame-mac-seed  = aes(mac-secret, keccak.digest[:16]) ^ keccak.digest[:16]
///     frame-mac       = keccak.update(frame-mac-seed).digest[:16]
struct FrameMAC: Sendable {
    var state: Keccak256
    let key: AESKey

    init(state: Keccak256, key: AESKey) {
        self.state = state
        self.key = key
    }

    /// Absorbs a header ciphertext (16 bytes) and returns the header MAC.
    mutating func headerMAC(_ headerCiphertext: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(headerCiphertext.count == FrameLayout.headerLength)
        var seed = encryptedDigestPrefix()
        for i in 0..<FrameLayout.macLength { seed[i] ^= headerCiphertext[i] }
        state.update(seed)
        return Array(state.digest().prefix(FrameLayout.macLength))
    }

    /// Absorbs a frame's body ciphertext (padding included) and returns the frame MAC.
    mutating func frameMAC(_ bodyCiphertext: UnsafeRawBufferPointer) -> [UInt8] {
        state.update(bodyCiphertext)
        let prefix = Array(state.digest().prefix(FrameLayout.macLength))
        var seed = encrypt(prefix)
        for i in 0..<FrameLayout.macLength { seed[i] ^= prefix[i] }
        state.update(seed)
        return Array(state.digest().prefix(FrameLayout.macLength))
    }

    private func encryptedDigestPrefix() -> [UInt8] {
        encrypt(Array(state.digest().prefix(FrameLayout.macLength)))
    }

    private func encrypt(_ block: [UInt8]) -> [UInt8] {
        var block = block
        do {
            try AES.permute(&block, key: key.key)
        } catch {
            preconditionFailure("AES-256 rejected a 32-byte key or 16-byte block: \(error)")
        }
        return block
    }

    /// Compares two MACs without an early exit, so timing does not reveal how many bytes match.
    static func equal(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
