import XCTest
import Secp256k1
import TestVectors
@testable import RLPxHandshake

/// The EIP-8 vector file, parsed once per use.
struct EIP8Vectors {
    let root: [String: Any]
    let keys: [String: String]
    let nonces: [String: String]

    init() throws {
        root = try XCTUnwrap(try TestVectors.json("rlpx-eip8-handshake.json") as? [String: Any])
        keys = try XCTUnwrap(root["keys"] as? [String: String])
        nonces = try XCTUnwrap(root["nonces"] as? [String: String])
    }

    func privateKey(_ name: String) throws -> PrivateKey { try PrivateKey(bytes: TestVectors.hex(keys[name]!)) }
    func publicKey(_ name: String) throws -> PublicKey { try PublicKey(bytes: TestVectors.hex(keys[name]!)) }
    func nonce(_ name: String) -> [UInt8] { TestVectors.hex(nonces[name]!) }

    func message(_ name: String) throws -> [String: Any] {
        try XCTUnwrap((root["messages"] as? [String: Any])?[name] as? [String: Any])
    }

    func packet(_ name: String) throws -> [UInt8] {
        TestVectors.hex(try XCTUnwrap(try message(name)["hex"] as? String))
    }

    func derived() throws -> [String: Any] {
        try XCTUnwrap(root["derived_secrets_auth2_ack2_recipient_B"] as? [String: Any])
    }

    /// A's side randomness as in EIP-8 (ephemeral key A, nonce A).
    func randomnessA(padding: Int = 100) throws -> HandshakeRandomness {
        HandshakeRandomness(ephemeralKey: try privateKey("ephemeral_private_key_a"), nonce: nonce("nonce_a_initiator"), paddingLength: padding)
    }

    func randomnessB(padding: Int = 100) throws -> HandshakeRandomness {
        HandshakeRandomness(ephemeralKey: try privateKey("ephemeral_private_key_b"), nonce: nonce("nonce_b_recipient"), paddingLength: padding)
    }
}

/// The complete legacy handshake of rlpx-frames.json.
struct LegacyVector {
    let values: [String: String]

    init() throws {
        let root = try XCTUnwrap(try TestVectors.json("rlpx-frames.json") as? [String: Any])
        let vector = try XCTUnwrap((root["vectors"] as? [String: Any])?["legacy_handshake_with_hello_frames"] as? [String: Any])
        values = try XCTUnwrap(vector["values"] as? [String: String])
    }

    func hex(_ name: String) -> [UInt8] { TestVectors.hex(values[name]!) }
    func key(_ name: String) throws -> PrivateKey { try PrivateKey(bytes: hex(name)) }
}

/// Unwraps a finished read, failing the test on `.needMore`.
func finished<V>(_ progress: HandshakeProgress<V>, file: StaticString = #filePath, line: UInt = #line) throws -> (V, Int) {
    switch progress {
    case .done(let value, let consumed): return (value, consumed)
    case .needMore(let n):
        XCTFail("handshake wants \(n) more bytes", file: file, line: line)
        throw XCTSkip("unfinished")
    }
}

/// The number of bytes asked for, failing the test on `.done`.
func wanted<V>(_ progress: HandshakeProgress<V>, file: StaticString = #filePath, line: UInt = #line) -> Int? {
    if case .needMore(let n) = progress { return n }
    XCTFail("handshake finished early", file: file, line: line)
    return nil
}

/// Seals any plaintext as an EIP-8 packet (2-byte size prefix used as shared MAC data), for
/// building well-encrypted but malformed packets.
func sealEIP8(_ plaintext: [UInt8], to key: PublicKey) throws -> [UInt8] {
    let size = plaintext.count + ECIES.overhead
    let prefix = [UInt8(size >> 8), UInt8(size & 0xff)]
    return prefix + (try ECIES.encrypt(plaintext, to: key, sharedMACData: prefix))
}

/// Asserts that `body` throws exactly `expected`.
func assertThrows<T>(_ expected: HandshakeError, _ body: @autoclosure () throws -> T,
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertEqual(error as? HandshakeError, expected, file: file, line: line)
    }
}
