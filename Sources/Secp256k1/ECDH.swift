import CSecp256k1

/// Elliptic-curve Diffie-Hellman as RLPx uses it: the raw 32-byte x coordinate of
/// `privateKey * publicKey`.
///
/// libsecp256k1's default hashes the point (SHA-256 of the compressed form); go-ethereum's
/// `ecies.GenerateShared` and the RLPx secrets use x itself, so we pass a hash callback that copies x.
public func ecdh(privateKey: PrivateKey, publicKey: PublicKey) throws(Secp256k1Error) -> [UInt8] {
    var point = publicKey.point
    var out = [UInt8](repeating: 0, count: 32)
    let copyX: secp256k1_ecdh_hash_function = { output, x, _, _ in
        guard let output, let x else { return 0 }
        output.update(from: x, count: 32)
        return 1
    }
    let ok = secp256k1_ecdh(SharedContext.shared.pointer, &out, &point, privateKey.bytes, copyX, nil)
    guard ok == 1 else { throw .ecdhFailed }
    return out
}
