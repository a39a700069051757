import XCTest
import Secp256k1
import TestVectors
@testable import RLPxHandshake

/// ecies.json: the cpp-ethereum building-block vectors (via pydevp2p test_ecies.py).
final class ECIESTests: XCTestCase {
    private func vectors() throws -> [String: Any] {
        try XCTUnwrap(try TestVectors.json("ecies.json") as? [String: Any])
    }

    func testSHA256Vectors() throws {
        let cases = try XCTUnwrap(try vectors()["sha256"] as? [[String: String]])
        XCTAssertEqual(cases.count, 2)
        for c in cases {
            XCTAssertEqual(Digests.sha256(TestVectors.hex(c["input"]!)), TestVectors.hex(c["digest"]!))
        }
    }

    func testHMACSHA256Vectors() throws {
        let cases = try XCTUnwrap(try vectors()["hmac_sha256"] as? [[String: String]])
        XCTAssertEqual(cases.count, 2)
        for c in cases {
            XCTAssertEqual(Digests.hmacSHA256(key: TestVectors.hex(c["key"]!), TestVectors.hex(c["data"]!)),
                           TestVectors.hex(c["mac"]!))
            // Split input is the same MAC (ECIES feeds iv||ciphertext and shared data separately).
            let data = TestVectors.hex(c["data"]!)
            XCTAssertEqual(Digests.hmacSHA256(key: TestVectors.hex(c["key"]!), Array(data.prefix(3)), Array(data.dropFirst(3))),
                           TestVectors.hex(c["mac"]!))
        }
    }

    func testConcatKDFVectors() throws {
        let cases = try XCTUnwrap(try vectors()["concat_kdf_sha256"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 2)
        for c in cases {
            let z = TestVectors.hex(c["z"] as! String)
            let length = c["length"] as! Int
            XCTAssertEqual(ConcatKDF.sha256(z: z, length: length), TestVectors.hex(c["output"] as! String))
        }
        // Longer outputs continue with counter 2 and begin with the 32-byte output.
        let z = [UInt8](repeating: 7, count: 32)
        XCTAssertEqual(Array(ConcatKDF.sha256(z: z, length: 48).prefix(32)), ConcatKDF.sha256(z: z, length: 32))
    }

    func testDecryptVectors() throws {
        let cases = try XCTUnwrap(try vectors()["decrypt"] as? [[String: String]])
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let key = try PrivateKey(bytes: TestVectors.hex(c["private_key"]!))
            let plaintext = try ECIES.decrypt(TestVectors.hex(c["ciphertext"]!), with: key)
            XCTAssertEqual(plaintext, Array(c["plaintext_ascii"]!.utf8))
        }
    }

    func testDecryptVectorWithWrongKeyFailsAuthentication() throws {
        let c = try XCTUnwrap((try vectors()["decrypt"] as? [[String: String]])?.first)
        XCTAssertThrowsError(try ECIES.decrypt(TestVectors.hex(c["ciphertext"]!), with: PrivateKey.generate())) {
            XCTAssertEqual($0 as? ECIESError, .authenticationFailed)
        }
        // Non-empty shared MAC data the sender did not use also fails.
        let key = try PrivateKey(bytes: TestVectors.hex(c["private_key"]!))
        XCTAssertThrowsError(try ECIES.decrypt(TestVectors.hex(c["ciphertext"]!), with: key, sharedMACData: [0])) {
            XCTAssertEqual($0 as? ECIESError, .authenticationFailed)
        }
    }

    func testRoundTripWithSharedMACData() throws {
        let recipient = PrivateKey.generate()
        for length in [0, 1, 15, 16, 17, 300] {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let sealed = try ECIES.encrypt(message, to: recipient.publicKey, sharedMACData: [0x01, 0xb3])
            XCTAssertEqual(sealed.count, message.count + ECIES.overhead)
            XCTAssertEqual(sealed[0], 0x04)
            XCTAssertEqual(try ECIES.decrypt(sealed, with: recipient, sharedMACData: [0x01, 0xb3]), message)
            XCTAssertThrowsError(try ECIES.decrypt(sealed, with: recipient, sharedMACData: [0x01, 0xb4]))
        }
    }

    func testInjectedRandomnessIsDeterministic() throws {
        let recipient = PrivateKey.generate().publicKey
        let eph = PrivateKey.generate()
        let iv = [UInt8](repeating: 9, count: 16)
        let a = try ECIES.encrypt([1, 2, 3], to: recipient, ephemeralKey: eph, iv: iv)
        let b = try ECIES.encrypt([1, 2, 3], to: recipient, ephemeralKey: eph, iv: iv)
        XCTAssertEqual(a, b)
        XCTAssertEqual(Array(a[1..<65]), eph.publicKey.raw64)
        XCTAssertEqual(Array(a[65..<81]), iv)
    }

    func testTamperingAnywhereIsDetected() throws {
        let recipient = PrivateKey.generate()
        let sealed = try ECIES.encrypt(Array("attack at dawn".utf8), to: recipient.publicKey)
        for index in [1, 40, 64, 65, 80, 81, sealed.count - 33, sealed.count - 1] {
            var bad = sealed
            bad[index] ^= 0x01
            XCTAssertThrowsError(try ECIES.decrypt(bad, with: recipient), "byte \(index)")
        }
    }

    func testMalformedMessagesRefused() throws {
        let key = PrivateKey.generate()
        XCTAssertThrowsError(try ECIES.decrypt([UInt8](repeating: 4, count: 112), with: key)) {
            XCTAssertEqual($0 as? ECIESError, .tooShort(112))
        }
        var sealed = try ECIES.encrypt([1], to: key.publicKey)
        sealed[0] = 0x02
        XCTAssertThrowsError(try ECIES.decrypt(sealed, with: key)) { XCTAssertEqual($0 as? ECIESError, .unsupportedKeyPrefix(2)) }
        let offCurve = [0x04] + [UInt8](repeating: 0, count: 64) + [UInt8](repeating: 0, count: 60)
        XCTAssertThrowsError(try ECIES.decrypt(offCurve, with: key)) { XCTAssertEqual($0 as? ECIESError, .invalidEphemeralKey) }
    }
}
