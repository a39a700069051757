import XCTest
import Keccak
import RLP
import Secp256k1
@testable import RLPxHandshake

/// Hostile, oversize, truncated and malformed packets: each gets a clear typed error (or a
/// request for more bytes), never a crash and never an unbounded wait.
final class RejectionTests: XCTestCase {
    let keyB = PrivateKey.generate()

    private func responder() -> HandshakeResponder { HandshakeResponder(staticKey: keyB) }

    func testOversizePrefixRejectedBeforeTheBody() {
        // Only the two prefix bytes have arrived: the limit is enforced without waiting.
        var r = responder()
        assertThrows(.packetTooLarge(size: 2049, limit: 2048), try r.receiveAuth([0x08, 0x01]))
        var r2 = responder()
        assertThrows(.packetTooLarge(size: 0xffff, limit: 2048), try r2.receiveAuth([0xff, 0xff]))
        var initiator = try! HandshakeInitiator(staticKey: .generate(), remotePublicKey: keyB.publicKey)
        assertThrows(.packetTooLarge(size: 0x0900, limit: 2048), try initiator.receiveAck([0x09, 0x00, 0x00]))
    }

    func testLargestAllowedPrefixWaitsForTheBody() throws {
        var r = responder()
        XCTAssertEqual(wanted(try r.receiveAuth([0x08, 0x00])), 2048)
    }

    func testTooSmallPrefixRejected() {
        var r = responder()
        assertThrows(.packetTooSmall(size: 16, minimum: ECIES.overhead + 1), try r.receiveAuth([0x00, 0x10]))
        var r2 = responder()
        assertThrows(.packetTooSmall(size: 0, minimum: ECIES.overhead + 1), try r2.receiveAuth([0x00, 0x00, 0x01]))
    }

    func testTruncatedPacketsAskForExactlyTheRest() throws {
        let auth = try HandshakeInitiator(staticKey: .generate(), remotePublicKey: keyB.publicKey).authPacket
        var r = responder()
        XCTAssertEqual(wanted(try r.receiveAuth([])), 2)
        XCTAssertEqual(wanted(try r.receiveAuth([auth[0]])), 1)
        for cut in [2, 3, 100, auth.count - 1] {
            XCTAssertEqual(wanted(try r.receiveAuth(Array(auth.prefix(cut)))), auth.count - cut)
        }
        _ = try finished(try r.receiveAuth(auth))
    }

    func testLegacyLookingPrefixWaitsForLegacySizeThenEIP8Size() throws {
        // 0x04 could start a legacy packet (307 bytes) or an EIP-8 packet of 0x04xx bytes.
        var r = responder()
        XCTAssertEqual(wanted(try r.receiveAuth([0x04])), 306)
        var garbage = [UInt8](repeating: 0x5a, count: 307)
        garbage[0] = 0x04
        garbage[1] = 0x10   // as EIP-8: 0x0410 = 1040 bytes follow
        XCTAssertEqual(wanted(try r.receiveAuth(garbage)), 2 + 0x0410 - 307)
        let full = garbage + [UInt8](repeating: 0x5a, count: 2 + 0x0410 - 307)
        XCTAssertThrowsError(try r.receiveAuth(full)) { error in
            guard case .ecies = error as? HandshakeError else { return XCTFail("\(error)") }
        }
    }

    func testGarbageOfTheAnnouncedSizeFailsDecryption() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var r = responder()
            let body = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
            XCTAssertThrowsError(try r.receiveAuth([0x01, 0x2c] + body)) { error in
                guard case .ecies = error as? HandshakeError else { return XCTFail("\(error)") }
            }
        }
    }

    func testTamperedAuthRejected() throws {
        let auth = try HandshakeInitiator(staticKey: .generate(), remotePublicKey: keyB.publicKey).authPacket
        for index in [2, 3, 70, 90, auth.count / 2, auth.count - 1] {
            var bad = auth
            bad[index] ^= 0x80
            var r = responder()
            XCTAssertThrowsError(try r.receiveAuth(bad), "byte \(index)")
        }
        // Changing the (authenticated) size prefix: it is shared MAC data.
        var shorter = auth
        shorter[1] -= 1
        var r = responder()
        XCTAssertThrowsError(try r.receiveAuth(shorter))
    }

    // MARK: well-encrypted but malformed bodies

    private func authBody(_ items: [RLPItem]) -> [UInt8] { RLP.encode(.list(items)) + [UInt8](repeating: 0, count: 100) }

    private func validFields() throws -> (sig: RLPItem, pub: RLPItem, nonce: RLPItem) {
        let a = PrivateKey.generate()
        let nonce = [UInt8](repeating: 1, count: 32)
        let shared = try ecdh(privateKey: a, publicKey: keyB.publicKey)
        let sig = try sign(hash: zip(shared, nonce).map { $0 ^ $1 }, key: .generate())
        return (.bytes(sig), .bytes(a.publicKey.raw64), .bytes(nonce))
    }

    func testBodyNotRLP() throws {
        // A string header announcing 0xffff bytes inside a 103-byte plaintext.
        var r = responder()
        XCTAssertThrowsError(try r.receiveAuth(try sealEIP8([0xb9, 0xff, 0xff] + [UInt8](repeating: 0, count: 100), to: keyB.publicKey))) { error in
            guard case .malformedRLP(.truncated) = error as? HandshakeError else { return XCTFail("\(error)") }
        }
    }

    func testBodyNotAList() throws {
        var r = responder()
        assertThrows(.bodyNotAList, try r.receiveAuth(try sealEIP8(RLP.encode(.bytes([1, 2, 3])) + [0, 0], to: keyB.publicKey)))
    }

    func testMissingFields() throws {
        let f = try validFields()
        var r = responder()
        assertThrows(.missingField("initiator nonce"), try r.receiveAuth(try sealEIP8(authBody([f.sig, f.pub]), to: keyB.publicKey)))
        var r2 = responder()
        assertThrows(.missingField("version"), try r2.receiveAuth(try sealEIP8(authBody([f.sig, f.pub, f.nonce]), to: keyB.publicKey)))
    }

    func testWrongFieldSizes() throws {
        let f = try validFields()
        var r = responder()
        assertThrows(.invalidField("signature (want 65 bytes)"),
                     try r.receiveAuth(try sealEIP8(authBody([.bytes([1, 2]), f.pub, f.nonce, .uint(4)]), to: keyB.publicKey)))
        var r2 = responder()
        assertThrows(.invalidField("initiator nonce (want 32 bytes)"),
                     try r2.receiveAuth(try sealEIP8(authBody([f.sig, f.pub, .list([]), .uint(4)]), to: keyB.publicKey)))
        var r3 = responder()
        XCTAssertThrowsError(try r3.receiveAuth(try sealEIP8(authBody([f.sig, f.pub, f.nonce, .bytes([UInt8](repeating: 1, count: 9))]),
                                                             to: keyB.publicKey))) { error in
            guard case .invalidField = error as? HandshakeError else { return XCTFail("\(error)") }
        }
    }

    func testPublicKeyNotOnCurve() throws {
        let f = try validFields()
        var r = responder()
        assertThrows(.invalidPublicKey(.publicKeyNotOnCurve),
                     try r.receiveAuth(try sealEIP8(authBody([f.sig, .bytes([UInt8](repeating: 0, count: 64)), f.nonce, .uint(4)]),
                                                    to: keyB.publicKey)))
    }

    func testUnrecoverableSignature() throws {
        let f = try validFields()
        var sig = f.sig.bytesValue!
        sig[64] = 5
        var r = responder()
        assertThrows(.invalidSignature(.invalidRecoveryID(5)),
                     try r.receiveAuth(try sealEIP8(authBody([.bytes(sig), f.pub, f.nonce, .uint(4)]), to: keyB.publicKey)))
    }

    func testLegacyAuthWithWrongEphemeralHash() throws {
        let a = PrivateKey.generate(), eph = PrivateKey.generate()
        let nonce = [UInt8](repeating: 2, count: 32)
        let shared = try ecdh(privateKey: a, publicKey: keyB.publicKey)
        let auth = AuthMessage(signature: try sign(hash: zip(shared, nonce).map { $0 ^ $1 }, key: eph),
                               initiatorPublicKey: a.publicKey, initiatorNonce: nonce, version: nil)
        // Hash of some other key in the keccak256(ephemeral-pubk) slot.
        let plaintext = auth.legacyPlaintext(ephemeralPublicKey: PrivateKey.generate().publicKey)
        var r = responder()
        assertThrows(.ephemeralKeyHashMismatch, try r.receiveAuth(try ECIES.encrypt(plaintext, to: keyB.publicKey)))
        // The right hash is accepted.
        var r2 = responder()
        _ = try finished(try r2.receiveAuth(try ECIES.encrypt(auth.legacyPlaintext(ephemeralPublicKey: eph.publicKey), to: keyB.publicKey)))
    }

    func testMalformedAckRejected() throws {
        let keyA = PrivateKey.generate()
        var initiator = try HandshakeInitiator(staticKey: keyA, remotePublicKey: keyB.publicKey)
        let body = RLP.encode(.list([.bytes([UInt8](repeating: 0, count: 64)), .bytes([UInt8](repeating: 0, count: 32)), .uint(4)]))
        assertThrows(.invalidPublicKey(.publicKeyNotOnCurve), try initiator.receiveAck(try sealEIP8(body + [0], to: keyA.publicKey)))
        var initiator2 = try HandshakeInitiator(staticKey: keyA, remotePublicKey: keyB.publicKey)
        let short = RLP.encode(.list([.bytes(PrivateKey.generate().publicKey.raw64)]))
        assertThrows(.missingField("recipient nonce"), try initiator2.receiveAck(try sealEIP8(short, to: keyA.publicKey)))
    }

    func testRandomInputNeverCrashes() throws {
        // Random buffers, and valid packets with random damage, through both readers: every
        // outcome must be a typed error or a finite request for more bytes.
        var generator = SystemRandomNumberGenerator()
        let keyA = PrivateKey.generate()
        let auth = try HandshakeInitiator(staticKey: keyA, remotePublicKey: keyB.publicKey).authPacket
        for round in 0..<300 {
            var input: [UInt8]
            if round % 2 == 0 {
                input = (0..<Int.random(in: 0...700, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if round % 4 == 0, !input.isEmpty { input[0] = 0x04 }
            } else {
                input = auth
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    input[Int.random(in: 0..<input.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                input = Array(input.prefix(Int.random(in: 0...input.count, using: &generator)))
            }
            var r = responder()
            do {
                if case .needMore(let n) = try r.receiveAuth(input) {
                    XCTAssertTrue((1...2050).contains(n), "asked for \(n) more")
                }
            } catch {
                // Typed throws: the error is a HandshakeError by construction; it must describe itself.
                XCTAssertFalse(error.description.isEmpty)
            }
            var i = try HandshakeInitiator(staticKey: keyA, remotePublicKey: keyB.publicKey)
            do {
                if case .needMore(let n) = try i.receiveAck(input) {
                    XCTAssertTrue((1...2050).contains(n), "asked for \(n) more")
                }
            } catch {
                // Typed throws: the error is a HandshakeError by construction; it must describe itself.
                XCTAssertFalse(error.description.isEmpty)
            }
        }
    }

    func testErrorsDescribeThemselves() {
        XCTAssertEqual(HandshakeError.packetTooLarge(size: 4096, limit: 2048).description,
                       "rlpx handshake: packet of 4096 bytes exceeds the 2048-byte limit")
        XCTAssertTrue(HandshakeError.ecies(.authenticationFailed).description.contains("authentication failed"))
    }
}
