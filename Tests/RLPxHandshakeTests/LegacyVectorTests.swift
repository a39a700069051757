import XCTest
import Keccak
import Secp256k1
import TestVectors
@testable import RLPxHandshake

/// rlpx-frames.json "legacy_handshake_with_hello_frames": a complete pre-EIP-8 handshake
/// (fjl's gist / cpp-ethereum) with every intermediate secret.
final class LegacyVectorTests: XCTestCase {
    func testAuthAndAckPlaintexts() throws {
        let v = try LegacyVector()
        XCTAssertEqual(try ECIES.decrypt(v.hex("auth_ciphertext"), with: try v.key("receiver_private_key")), v.hex("auth_plaintext"))
        XCTAssertEqual(try ECIES.decrypt(v.hex("authresp_ciphertext"), with: try v.key("initiator_private_key")), v.hex("authresp_plaintext"))

        let (auth, hash) = try AuthMessage.decodeLegacy(v.hex("auth_plaintext"))
        XCTAssertEqual(auth.initiatorPublicKey, try v.key("initiator_private_key").publicKey)
        XCTAssertEqual(auth.initiatorNonce, v.hex("initiator_nonce"))
        XCTAssertEqual(hash, Keccak256.hash(try v.key("initiator_ephemeral_private_key").publicKey.raw64))
        let ack = try AckMessage.decodeLegacy(v.hex("authresp_plaintext"))
        XCTAssertEqual(ack.ephemeralPublicKey, try v.key("receiver_ephemeral_private_key").publicKey)
        XCTAssertEqual(ack.recipientNonce, v.hex("receiver_nonce"))
    }

    func testLegacyPlaintextEncodersReproduceTheVector() throws {
        let v = try LegacyVector()
        let (auth, _) = try AuthMessage.decodeLegacy(v.hex("auth_plaintext"))
        XCTAssertEqual(auth.legacyPlaintext(ephemeralPublicKey: try v.key("initiator_ephemeral_private_key").publicKey),
                       v.hex("auth_plaintext"))
        let ack = AckMessage(ephemeralPublicKey: try v.key("receiver_ephemeral_private_key").publicKey,
                             recipientNonce: v.hex("receiver_nonce"), version: nil)
        XCTAssertEqual(ack.legacyPlaintext(), v.hex("authresp_plaintext"))
    }

    func testIntermediateSecrets() throws {
        let v = try LegacyVector()
        let ephemeralShared = try ecdh(privateKey: try v.key("initiator_ephemeral_private_key"),
                                       publicKey: try v.key("receiver_ephemeral_private_key").publicKey)
        XCTAssertEqual(ephemeralShared, v.hex("ecdhe_shared_secret"))
        let material = HandshakeSecrets.KeyMaterial(ephemeralSharedSecret: ephemeralShared,
                                                    initiatorNonce: v.hex("initiator_nonce"), recipientNonce: v.hex("receiver_nonce"))
        XCTAssertEqual(material.aesSecret, v.hex("aes_secret"))
        XCTAssertEqual(material.macSecret, v.hex("mac_secret"))
        XCTAssertEqual(material.token, v.hex("token"))
    }

    func testInitialMACsBothSides() throws {
        let v = try LegacyVector()
        let initiator = try HandshakeSecrets.derive(role: .initiator, ephemeralKey: try v.key("initiator_ephemeral_private_key"),
                                                    remoteEphemeralKey: try v.key("receiver_ephemeral_private_key").publicKey,
                                                    initiatorNonce: v.hex("initiator_nonce"), recipientNonce: v.hex("receiver_nonce"),
                                                    authPacket: v.hex("auth_ciphertext"), ackPacket: v.hex("authresp_ciphertext"))
        XCTAssertEqual(initiator.egressMAC.digest(), v.hex("initial_egress_MAC"))
        XCTAssertEqual(initiator.ingressMAC.digest(), v.hex("initial_ingress_MAC"))
        let receiver = try HandshakeSecrets.derive(role: .recipient, ephemeralKey: try v.key("receiver_ephemeral_private_key"),
                                                   remoteEphemeralKey: try v.key("initiator_ephemeral_private_key").publicKey,
                                                   initiatorNonce: v.hex("initiator_nonce"), recipientNonce: v.hex("receiver_nonce"),
                                                   authPacket: v.hex("auth_ciphertext"), ackPacket: v.hex("authresp_ciphertext"))
        XCTAssertEqual(receiver.ingressMAC.digest(), v.hex("initial_egress_MAC"))
        XCTAssertEqual(receiver.egressMAC.digest(), v.hex("initial_ingress_MAC"))
        XCTAssertEqual(receiver.aesSecret, v.hex("aes_secret"))
        XCTAssertEqual(receiver.macSecret, v.hex("mac_secret"))
    }

    func testResponderStateMachineOnTheVectorAuth() throws {
        let v = try LegacyVector()
        let randomness = HandshakeRandomness(ephemeralKey: try v.key("receiver_ephemeral_private_key"),
                                             nonce: v.hex("receiver_nonce"), paddingLength: 0)
        var responder = HandshakeResponder(staticKey: try v.key("receiver_private_key"), randomness: randomness)
        let (outcome, consumed) = try finished(try responder.receiveAuth(v.hex("auth_ciphertext")))
        XCTAssertEqual(consumed, 307)
        XCTAssertEqual(outcome.result.remoteFormat, .legacy)
        XCTAssertEqual(outcome.result.remotePublicKey, try v.key("initiator_private_key").publicKey)
        XCTAssertEqual(outcome.result.remoteEphemeralPublicKey, try v.key("initiator_ephemeral_private_key").publicKey)
        XCTAssertEqual(outcome.result.secrets.aesSecret, v.hex("aes_secret"))
        XCTAssertEqual(outcome.result.secrets.macSecret, v.hex("mac_secret"))
        // Seeded with the vector's auth packet, so it is the initiator's published egress MAC.
        XCTAssertEqual(outcome.result.secrets.ingressMAC.digest(), v.hex("initial_egress_MAC"))
        XCTAssertEqual(try ECIES.decrypt(outcome.ackPacket, with: try v.key("initiator_private_key")), v.hex("authresp_plaintext"))
    }

    func testInitiatorStateMachineOnTheVectorAck() throws {
        let v = try LegacyVector()
        let randomness = HandshakeRandomness(ephemeralKey: try v.key("initiator_ephemeral_private_key"),
                                             nonce: v.hex("initiator_nonce"), paddingLength: 0)
        var initiator = try HandshakeInitiator(staticKey: try v.key("initiator_private_key"),
                                               remotePublicKey: try v.key("receiver_private_key").publicKey,
                                               format: .legacy, randomness: randomness)
        XCTAssertEqual(initiator.authPacket.count, 307)
        // Our legacy auth has the vector's layout: everything but the signature is identical
        // (the vector's signer was not deterministic).
        let ours = try ECIES.decrypt(initiator.authPacket, with: try v.key("receiver_private_key"))
        XCTAssertEqual(Array(ours[65...]), Array(v.hex("auth_plaintext")[65...]))

        let (result, consumed) = try finished(try initiator.receiveAck(v.hex("authresp_ciphertext")))
        XCTAssertEqual(consumed, 210)
        XCTAssertEqual(result.remoteFormat, .legacy)
        XCTAssertEqual(result.secrets.aesSecret, v.hex("aes_secret"))
        XCTAssertEqual(result.secrets.macSecret, v.hex("mac_secret"))
        XCTAssertEqual(result.secrets.ingressMAC.digest(), v.hex("initial_ingress_MAC"))
    }
}
