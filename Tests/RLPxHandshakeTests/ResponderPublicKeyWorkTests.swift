import XCTest
import Secp256k1
@testable import RLPxHandshake

/// The crypto bound's replay must be the responder's public-key work on the same inputs: from
/// the same auth and the same randomness it must reach the responder's own results.
final class ResponderPublicKeyWorkTests: XCTestCase {
    func testReplayReachesTheResponderResults() throws {
        let initiatorKey = PrivateKey.generate(), responderKey = PrivateKey.generate()
        let initiator = try HandshakeInitiator(staticKey: initiatorKey, remotePublicKey: responderKey.publicKey)
        let randomness = HandshakeRandomness(ephemeralKey: .generate(), nonce: [UInt8](repeating: 7, count: 32),
                                             paddingLength: 150, eciesKey: .generate(), eciesIV: [UInt8](repeating: 9, count: 16))
        var responder = HandshakeResponder(staticKey: responderKey, randomness: randomness)
        guard case .done(let outcome, _) = try responder.receiveAuth(initiator.authPacket) else {
            return XCTFail("a whole auth did not complete the handshake")
        }

        let replay = try ResponderPublicKeyWork(authPacket: initiator.authPacket, staticKey: responderKey)
        let outputs = try replay.perform(ephemeralKey: randomness.ephemeralKey, eciesKey: randomness.eciesKey)

        XCTAssertEqual(outputs.remoteEphemeralKey, outcome.result.remoteEphemeralPublicKey)
        // The sealed ack: 2-byte size, then 0x04 || R.
        XCTAssertEqual(outputs.eciesPublicKey.uncompressed65, Array(outcome.ackPacket[2..<67]))
        let ack = try AckMessage.decodeEIP8(try ECIES.decrypt(Array(outcome.ackPacket[2...]), with: initiatorKey,
                                                              sharedMACData: Array(outcome.ackPacket[0..<2])))
        XCTAssertEqual(outputs.ephemeralPublicKey, ack.ephemeralPublicKey)
        // The session secrets grow from the replay's ephemeral shared secret.
        let material = HandshakeSecrets.KeyMaterial(ephemeralSharedSecret: outputs.ephemeralSharedSecret,
                                                    initiatorNonce: outcome.result.remoteNonce,
                                                    recipientNonce: randomness.nonce)
        XCTAssertEqual(material.aesSecret, outcome.result.secrets.aesSecret)
        XCTAssertEqual(material.macSecret, outcome.result.secrets.macSecret)
    }

    func testFreshKeysRecoverTheSameRemoteEphemeralKey() throws {
        let responderKey = PrivateKey.generate()
        let initiator = try HandshakeInitiator(staticKey: .generate(), remotePublicKey: responderKey.publicKey)
        let replay = try ResponderPublicKeyWork(authPacket: initiator.authPacket, staticKey: responderKey)
        let first = try replay.perform(), second = try replay.perform()
        XCTAssertEqual(first.remoteEphemeralKey, second.remoteEphemeralKey)
        XCTAssertNotEqual(first.ephemeralPublicKey, second.ephemeralPublicKey)
    }

    func testRefusesAPacketForAnotherKey() throws {
        let initiator = try HandshakeInitiator(staticKey: .generate(), remotePublicKey: PrivateKey.generate().publicKey)
        XCTAssertThrowsError(try ResponderPublicKeyWork(authPacket: initiator.authPacket, staticKey: .generate()))
    }

    func testRefusesLegacyAuth() throws {
        let responderKey = PrivateKey.generate()
        let initiator = try HandshakeInitiator(staticKey: .generate(), remotePublicKey: responderKey.publicKey, format: .legacy)
        XCTAssertThrowsError(try ResponderPublicKeyWork(authPacket: initiator.authPacket, staticKey: responderKey))
    }
}
