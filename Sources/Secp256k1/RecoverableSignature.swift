import CSecp256k1

/// Length of a recoverable signature on the devp2p wire: r(32) || s(32) || v(1).
public let recoverableSignatureLength = 65

/// Signs a 32-byte hash with a recoverable ECDSA signature, returned as r || s || v with v in
/// 0...1 (go-ethereum's `crypto.Sign` form). The nonce is RFC 6979 (libsecp256k1's default), so
/// the same key and hash always give the same signature, as in go-ethereum; s is low (BIP 62).
public func sign(hash: [UInt8], key: PrivateKey) throws(Secp256k1Error) -> [UInt8] {
    guard hash.count == 32 else { throw .hashWrongLength(hash.count) }
    let ctx = SharedContext.shared.pointer
    var sig = secp256k1_ecdsa_recoverable_signature()
    guard secp256k1_ecdsa_sign_recoverable(ctx, &sig, hash, key.bytes, nil, nil) == 1 else {
        throw .signingFailed
    }
    var out = [UInt8](repeating: 0, count: 64)
    var recid: Int32 = 0
    _ = secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, &out, &recid, &sig)
    out.append(UInt8(recid))
    return out
}

/// The public key that made `signature` (r || s || v, v in 0...1) over the 32-byte `hash`.
public func recover(signature: [UInt8], hash: [UInt8]) throws(Secp256k1Error) -> PublicKey {
    guard signature.count == recoverableSignatureLength else { throw .signatureWrongLength(signature.count) }
    guard hash.count == 32 else { throw .hashWrongLength(hash.count) }
    let v = signature[64]
    // libsecp256k1 accepts recovery ids 0...3, but 2 and 3 (r >= n - p) are never produced by
    // signing and go-ethereum refuses them, so we do too.
    guard v <= 1 else { throw .invalidRecoveryID(v) }
    let ctx = SharedContext.shared.pointer
    var sig = secp256k1_ecdsa_recoverable_signature()
    let compact = Array(signature[0..<64])
    guard secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &sig, compact, Int32(v)) == 1 else {
        throw .signatureOutOfRange
    }
    var point = secp256k1_pubkey()
    guard secp256k1_ecdsa_recover(ctx, &point, &sig, hash) == 1 else { throw .recoveryFailed }
    return PublicKey(point: point)
}
