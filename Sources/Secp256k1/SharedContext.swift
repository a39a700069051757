import CSecp256k1

/// The one libsecp256k1 context the process uses.
///
/// libsecp256k1 documents a context as safe to use from many threads at once for every call
/// that takes it `const` (all of signing, verification, ECDH, parsing); only
/// `secp256k1_context_randomize`, `_clone` and `_destroy` mutate it. We randomize exactly once,
/// here, before the context is published, and never destroy it, so sharing it is sound.
final class SharedContext: @unchecked Sendable {
    let pointer: OpaquePointer

    static let shared = SharedContext()

    private init() {
        guard let ctx = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE)) else {
            fatalError("secp256k1: cannot create a context (out of memory)")
        }
        // Blinding against side channels in signing and public-key generation: 32 bytes of seed
        // from the system CSPRNG, as libsecp256k1's own examples do.
        var seed = SecureRandom.bytes(32)
        let ok = secp256k1_context_randomize(ctx, &seed)
        precondition(ok == 1, "secp256k1: context randomization failed")
        pointer = ctx
    }
}
