import XCTest
import Secp256k1
import TestVectors

final class KeyTests: XCTestCase {
    func testPrivateToPublicVector() throws {
        let v = try XCTUnwrap(try TestVectors.json("ecies.json") as? [String: Any])
        let case_ = try XCTUnwrap(v["private_to_public"] as? [String: String])
        let key = try PrivateKey(bytes: TestVectors.hex(case_["private_key"]!))
        XCTAssertEqual(key.publicKey.raw64, TestVectors.hex(case_["public_key"]!))
    }

    func testEIP8KeyPairsMatch() throws {
        let v = try XCTUnwrap(try TestVectors.json("rlpx-eip8-handshake.json") as? [String: Any])
        let keys = try XCTUnwrap(v["keys"] as? [String: String])
        for name in ["static_%@_key_a", "static_%@_key_b", "ephemeral_%@_key_a", "ephemeral_%@_key_b"] {
            let priv = try PrivateKey(bytes: TestVectors.hex(keys[String(format: name, "private")]!))
            XCTAssertEqual(priv.publicKey.raw64, TestVectors.hex(keys[String(format: name, "public")]!), name)
        }
    }

    func testPublicKeyEncodingsAgree() throws {
        let key = PrivateKey.generate().publicKey
        XCTAssertEqual(key.raw64.count, 64)
        XCTAssertEqual(key.uncompressed65, [0x04] + key.raw64)
        XCTAssertEqual(key.compressed33.count, 33)
        XCTAssertEqual(try PublicKey(bytes: key.raw64), key)
        XCTAssertEqual(try PublicKey(bytes: key.uncompressed65), key)
        XCTAssertEqual(try PublicKey(bytes: key.compressed33), key)
    }

    func testCompressedKeyFromENRVector() throws {
        // devp2p enr.md: the compressed secp256k1 entry of the record signed by EIP-8's key B.
        let v = try XCTUnwrap(try TestVectors.json("rlpx-eip8-handshake.json") as? [String: Any])
        let keys = try XCTUnwrap(v["keys"] as? [String: String])
        let compressed = TestVectors.hex("03ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138")
        XCTAssertEqual(try PublicKey(bytes: compressed).raw64, TestVectors.hex(keys["static_public_key_b"]!))
    }

    func testInvalidPrivateKeysRefused() {
        XCTAssertThrowsError(try PrivateKey(bytes: [UInt8](repeating: 1, count: 31))) {
            XCTAssertEqual($0 as? Secp256k1Error, .privateKeyWrongLength(31))
        }
        XCTAssertThrowsError(try PrivateKey(bytes: [UInt8](repeating: 0, count: 32))) {
            XCTAssertEqual($0 as? Secp256k1Error, .privateKeyOutOfRange)
        }
        // The group order n itself and 2^256-1 are out of range.
        let n = TestVectors.hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        XCTAssertThrowsError(try PrivateKey(bytes: n)) { XCTAssertEqual($0 as? Secp256k1Error, .privateKeyOutOfRange) }
        XCTAssertThrowsError(try PrivateKey(bytes: [UInt8](repeating: 0xff, count: 32))) {
            XCTAssertEqual($0 as? Secp256k1Error, .privateKeyOutOfRange)
        }
        // n - 1 is the largest valid scalar.
        var nMinus1 = n
        nMinus1[31] -= 1
        XCTAssertNoThrow(try PrivateKey(bytes: nMinus1))
    }

    func testInvalidPublicKeysRefused() throws {
        let good = PrivateKey.generate().publicKey
        var offCurve = good.raw64
        offCurve[63] ^= 1
        XCTAssertThrowsError(try PublicKey(bytes: offCurve)) { XCTAssertEqual($0 as? Secp256k1Error, .publicKeyNotOnCurve) }
        XCTAssertThrowsError(try PublicKey(bytes: [UInt8](repeating: 0, count: 64))) {
            XCTAssertEqual($0 as? Secp256k1Error, .publicKeyNotOnCurve)
        }
        XCTAssertThrowsError(try PublicKey(bytes: Array(good.raw64.prefix(63)))) {
            XCTAssertEqual($0 as? Secp256k1Error, .publicKeyWrongLength(63))
        }
        // A valid point with a wrong prefix byte (hybrid 0x06/0x07 is not used by devp2p).
        var hybrid = good.uncompressed65
        hybrid[0] = good.raw64[63] & 1 == 0 ? 0x06 : 0x07
        XCTAssertThrowsError(try PublicKey(bytes: hybrid)) { XCTAssertEqual($0 as? Secp256k1Error, .publicKeyNotOnCurve) }
        var badCompressed = good.compressed33
        badCompressed[0] = 0x05
        XCTAssertThrowsError(try PublicKey(bytes: badCompressed)) { XCTAssertEqual($0 as? Secp256k1Error, .publicKeyNotOnCurve) }
    }

    func testGenerateGivesDistinctKeys() {
        XCTAssertNotEqual(PrivateKey.generate().bytes, PrivateKey.generate().bytes)
    }

    func testDescriptionRedactsPrivateKey() throws {
        let key = try PrivateKey(bytes: [UInt8](repeating: 0x11, count: 32))
        XCTAssertFalse("\(key)".contains("1111"))
    }
}

final class ECDHTests: XCTestCase {
    func testAgreeVector() throws {
        let v = try XCTUnwrap(try TestVectors.json("ecies.json") as? [String: Any])
        let agree = try XCTUnwrap(v["ecdh_agree"] as? [String: String])
        let priv = try PrivateKey(bytes: TestVectors.hex(agree["private_key"]!))
        let pub = try PublicKey(bytes: TestVectors.hex(agree["public_key"]!))
        XCTAssertEqual(try ecdh(privateKey: priv, publicKey: pub), TestVectors.hex(agree["shared_x"]!))
    }

    func testStaticSharedSecretOfEIP8Keys() throws {
        let v = try XCTUnwrap(try TestVectors.json("rlpx-eip8-handshake.json") as? [String: Any])
        let keys = try XCTUnwrap(v["keys"] as? [String: String])
        let derived = try XCTUnwrap(v["derived_secrets_auth2_ack2_recipient_B"] as? [String: Any])
        let inter = try XCTUnwrap(derived["intermediate_values_computed_here"] as? [String: String])
        let a = try PrivateKey(bytes: TestVectors.hex(keys["static_private_key_a"]!))
        let b = try PrivateKey(bytes: TestVectors.hex(keys["static_private_key_b"]!))
        let ab = try ecdh(privateKey: a, publicKey: b.publicKey)
        XCTAssertEqual(ab, try ecdh(privateKey: b, publicKey: a.publicKey))
        XCTAssertEqual(ab, TestVectors.hex(inter["static_shared_secret"]!))
    }

    func testBothSidesAgree() throws {
        let a = PrivateKey.generate(), b = PrivateKey.generate()
        let x = try ecdh(privateKey: a, publicKey: b.publicKey)
        XCTAssertEqual(x.count, 32)
        XCTAssertEqual(x, try ecdh(privateKey: b, publicKey: a.publicKey))
    }
}

final class SignatureTests: XCTestCase {
    func testEIP8AuthSignatureRecovers() throws {
        // The auth signature is made by A's ephemeral key over static-shared-secret XOR nonce-a.
        // Its signer did not use RFC 6979, so we cannot reproduce its bytes; we check that it
        // recovers to A's ephemeral key, and that our own signature over the same hash does too.
        let v = try XCTUnwrap(try TestVectors.json("rlpx-eip8-handshake.json") as? [String: Any])
        let keys = try XCTUnwrap(v["keys"] as? [String: String])
        let nonces = try XCTUnwrap(v["nonces"] as? [String: String])
        let sig = TestVectors.hex(try XCTUnwrap((v["auth_signature"] as? [String: String])?["value"]))
        let a = try PrivateKey(bytes: TestVectors.hex(keys["static_private_key_a"]!))
        let b = try PrivateKey(bytes: TestVectors.hex(keys["static_private_key_b"]!))
        let eph = try PrivateKey(bytes: TestVectors.hex(keys["ephemeral_private_key_a"]!))
        let shared = try ecdh(privateKey: a, publicKey: b.publicKey)
        let nonce = TestVectors.hex(nonces["nonce_a_initiator"]!)
        let signed = zip(shared, nonce).map { $0 ^ $1 }
        let ephPublic = TestVectors.hex(keys["ephemeral_public_key_a"]!)
        XCTAssertEqual(try recover(signature: sig, hash: signed).raw64, ephPublic)
        let ours = try sign(hash: signed, key: eph)
        XCTAssertEqual(try recover(signature: ours, hash: signed).raw64, ephPublic)
        // RFC 6979: deterministic, as go-ethereum's libsecp256k1 signer.
        XCTAssertEqual(try sign(hash: signed, key: eph), ours)
    }

    func testSignRecoverRoundTrips() throws {
        for i in 0..<20 {
            let key = PrivateKey.generate()
            let hash = (0..<32).map { UInt8(truncatingIfNeeded: $0 * 7 + i) }
            let sig = try sign(hash: hash, key: key)
            XCTAssertEqual(sig.count, 65)
            XCTAssertLessThanOrEqual(sig[64], 1)
            XCTAssertEqual(try recover(signature: sig, hash: hash), key.publicKey)
            // Another hash recovers to another key (or to none), never to the signer.
            var other = hash
            other[0] ^= 0x80
            XCTAssertNotEqual(try? recover(signature: sig, hash: other), key.publicKey)
        }
    }

    func testBadSignaturesRefused() throws {
        let key = PrivateKey.generate()
        let hash = [UInt8](repeating: 0xab, count: 32)
        var sig = try sign(hash: hash, key: key)
        XCTAssertThrowsError(try recover(signature: Array(sig.prefix(64)), hash: hash)) {
            XCTAssertEqual($0 as? Secp256k1Error, .signatureWrongLength(64))
        }
        XCTAssertThrowsError(try recover(signature: sig, hash: Array(hash.prefix(31)))) {
            XCTAssertEqual($0 as? Secp256k1Error, .hashWrongLength(31))
        }
        XCTAssertThrowsError(try sign(hash: [1, 2, 3], key: key)) {
            XCTAssertEqual($0 as? Secp256k1Error, .hashWrongLength(3))
        }
        sig[64] = 27
        XCTAssertThrowsError(try recover(signature: sig, hash: hash)) {
            XCTAssertEqual($0 as? Secp256k1Error, .invalidRecoveryID(27))
        }
        let overflow = [UInt8](repeating: 0xff, count: 64) + [0]
        XCTAssertThrowsError(try recover(signature: overflow, hash: hash)) {
            XCTAssertEqual($0 as? Secp256k1Error, .signatureOutOfRange)
        }
        let zero = [UInt8](repeating: 0, count: 65)
        XCTAssertThrowsError(try recover(signature: zero, hash: hash))
    }

    func testConcurrentUseOfSharedContext() throws {
        // The context is shared by every thread; hammer it from several at once.
        let failures = ManagedCounter()
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            let key = PrivateKey.generate()
            let hash = [UInt8](repeating: UInt8(i), count: 32)
            guard let sig = try? sign(hash: hash, key: key),
                  let back = try? recover(signature: sig, hash: hash), back == key.publicKey else {
                failures.increment()
                return
            }
        }
        XCTAssertEqual(failures.value, 0)
    }
}

final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
