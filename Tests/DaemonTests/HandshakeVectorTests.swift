import Enode
import Foundation
import RLPxHandshake
import Secp256k1
import TestVectors
import XCTest

/// The daemon on the wire against EIP-8's published handshake: run with node B's static key,
/// it opens node A's published auth packets (legacy Auth1, EIP-8 Auth2 and Auth3 with a newer
/// version and extra list elements) and answers each with an ack in the same format, sealed
/// for A's static key.
final class HandshakeVectorTests: XCTestCase {
    func testAnswersPublishedAuthPacketsWithAckForInitiator() throws {
        let vectors = try XCTUnwrap(TestVectors.json("rlpx-eip8-handshake.json") as? [String: Any])
        let keys = try XCTUnwrap(vectors["keys"] as? [String: String])
        let messages = try XCTUnwrap(vectors["messages"] as? [String: Any])
        let keyB = try XCTUnwrap(keys["static_private_key_b"])
        let keyA = try PrivateKey(bytes: TestVectors.hex(try XCTUnwrap(keys["static_private_key_a"])))
        let publicA = try XCTUnwrap(keys["static_public_key_a"])

        let keyDir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-key-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: keyDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: keyDir) }
        let keyFile = keyDir.appendingPathComponent("nodekey")
        try Data(keyB.utf8).write(to: keyFile)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile.path)

        let daemon = try DaemonProcess(["run", "--key", keyFile.path], config: TestConfig.toml())
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        XCTAssertEqual(enode.nodeID.hex, keys["static_public_key_b"], "the daemon must run with B's identity")

        for (round, name) in ["auth1", "auth2", "auth3"].enumerated() {
            let message = try XCTUnwrap(messages[name] as? [String: Any])
            let fields = try XCTUnwrap(message["decoded_fields"] as? [String: Any])
            let legacy = fields["format"] as? String == "legacy"
            let connection = try RawConnection(to: enode)
            try connection.write(TestVectors.hex(try XCTUnwrap(message["hex"] as? String)))

            let plaintext: [UInt8]
            if legacy {
                // A legacy auth gets a legacy ack: a bare 210-byte ECIES message.
                let ack = try XCTUnwrap(connection.read(exactly: 210, timeout: 10), "\(name): no legacy ack")
                plaintext = try ECIES.decrypt(ack, with: keyA)
                XCTAssertEqual(plaintext.count, 97, "\(name): legacy ack body")
            } else {
                // An EIP-8 auth gets an EIP-8 ack: a 2-byte size, then that many bytes, the size
                // authenticated as the ECIES shared MAC data.
                let prefix = try XCTUnwrap(connection.read(exactly: 2, timeout: 10), "\(name): no ack")
                let size = Int(prefix[0]) << 8 | Int(prefix[1])
                XCTAssertLessThanOrEqual(size, 2048, "\(name): ack above EIP-8's size cap")
                let body = try XCTUnwrap(connection.read(exactly: size, timeout: 10), "\(name): short ack")
                plaintext = try ECIES.decrypt(body, with: keyA, sharedMACData: prefix)
                XCTAssertTrue(plaintext.first.map { $0 >= 0xc0 } ?? false, "\(name): ack body is not an RLP list")
            }
            // The daemon then asked its peer manager about A and waits for A's Hello; hanging
            // up aborts that, so the next round finds A's identity free again.
            connection.close()
            XCTAssertTrue(daemon.waitForLog("handshake failed: \(publicA.prefix(16))…", times: round + 1),
                          "\(name): the aborted handshake was not reported")
        }
    }
}
