import Crypto

/// A 256-bit AES key that can live inside Sendable session state.
///
/// swift-crypto 3.x does not mark `SymmetricKey` Sendable, but the key is immutable once made
/// (its storage is never written after initialisation), so sharing it across isolation domains
/// is safe. The raw bytes are kept too, because session state is exported as bytes.
struct AESKey: @unchecked Sendable {
    let bytes: [UInt8]
    let key: SymmetricKey

    init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32, "RLPx uses AES-256: keys are 32 bytes")
        self.bytes = bytes
        self.key = SymmetricKey(data: bytes)
    }
}
