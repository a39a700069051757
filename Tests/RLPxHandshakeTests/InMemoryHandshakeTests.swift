import XCTest
import Keccak
import RLPxFrame
import Secp256k1
@testable import RLPxHandshake

/// Initiator against responder with no network: bytes handed across by the test.
final class InMemoryHandshakeTests: XCTestCase {
    struct Pair {
        let initiator: HandshakeResult
        let responder: HandshakeResult
        let keyA: PrivateKey
        let keyB: PrivateKey
    }

    /// Runs a whole handshake, feeding each side in chunks of `chunk` bytes to exercise the
    /// incremental reads.
    func handshake(format: HandshakeFormat, chunk: Int = .max) throws -> Pair {
        let keyA = PrivateKey.generate(), keyB = PrivateKey.generate()
        var initiator = try HandshakeInitiator(staticKey: keyA, remotePublicKey: keyB.publicKey, format: format)
        var responder = HandshakeResponder(staticKey: keyB)

        func feed<V>(_ packet: [UInt8], _ step: ([UInt8]) throws -> HandshakeProgress<V>) throws -> V {
            var buffer: [UInt8] = []
            var offset = 0
            while true {
                switch try step(buffer) {
                case .done(let value, let consumed):
                    XCTAssertEqual(consumed, packet.count)
                    return value
                case .needMore(let n):
                    XCTAssertGreaterThan(n, 0)
                    // Never ask for bytes beyond the packet: the caller could block forever.
                    XCTAssertLessThanOrEqual(buffer.count + n, packet.count)
                    let take = min(chunk, packet.count - offset)
                    guard take > 0 else { XCTFail("ran out of bytes"); throw XCTSkip("stalled") }
                    buffer += packet[offset..<(offset + take)]
                    offset += take
                }
            }
        }

        let outcome = try feed(initiator.authPacket) { try responder.receiveAuth($0) }
        let result = try feed(outcome.ackPacket) { try initiator.receiveAck($0) }
        return Pair(initiator: result, responder: outcome.result, keyA: keyA, keyB: keyB)
    }

    func assertMirrored(_ pair: Pair, format: HandshakeFormat, file: StaticString = #filePath, line: UInt = #line) {
        let a = pair.initiator.secrets, b = pair.responder.secrets
        XCTAssertEqual(a.aesSecret, b.aesSecret, file: file, line: line)
        XCTAssertEqual(a.macSecret, b.macSecret, file: file, line: line)
        XCTAssertEqual(a.egressMAC.digest(), b.ingressMAC.digest(), file: file, line: line)
        XCTAssertEqual(a.ingressMAC.digest(), b.egressMAC.digest(), file: file, line: line)
        XCTAssertNotEqual(a.egressMAC.digest(), a.ingressMAC.digest(), file: file, line: line)
        // The running states stay mirrored as frames are MACed.
        var ae = a.egressMAC, bi = b.ingressMAC
        ae.update(Array("frame".utf8)); bi.update(Array("frame".utf8))
        XCTAssertEqual(ae.digest(), bi.digest(), file: file, line: line)
        XCTAssertEqual(pair.initiator.remotePublicKey, pair.keyB.publicKey, file: file, line: line)
        XCTAssertEqual(pair.responder.remotePublicKey, pair.keyA.publicKey, file: file, line: line)
        XCTAssertEqual(pair.initiator.remoteFormat, format, file: file, line: line)
        XCTAssertEqual(pair.responder.remoteFormat, format, file: file, line: line)
    }

    func testEIP8() throws {
        let pair = try handshake(format: .eip8)
        assertMirrored(pair, format: .eip8)
        XCTAssertEqual(pair.initiator.remoteVersion, 4)
        XCTAssertEqual(pair.responder.remoteVersion, 4)
    }

    func testLegacy() throws {
        let pair = try handshake(format: .legacy)
        assertMirrored(pair, format: .legacy)
        XCTAssertNil(pair.responder.remoteVersion)
    }

    func testByteAtATime() throws {
        assertMirrored(try handshake(format: .eip8, chunk: 1), format: .eip8)
        assertMirrored(try handshake(format: .legacy, chunk: 1), format: .legacy)
    }

    func testOddChunks() throws {
        for chunk in [2, 7, 100, 306, 307, 308] {
            assertMirrored(try handshake(format: .eip8, chunk: chunk), format: .eip8)
        }
    }

    func testEIP8PacketSizesFollowGoEthereumPadding() throws {
        let keyB = PrivateKey.generate()
        // Auth body: sig 67 + pubkey 66 + nonce 33 + version 1, in a list with a 2-byte header.
        let body = 2 + 67 + 66 + 33 + 1
        for _ in 0..<20 {
            let hs = try HandshakeInitiator(staticKey: PrivateKey.generate(), remotePublicKey: keyB.publicKey)
            let size = Int(hs.authPacket[0]) << 8 | Int(hs.authPacket[1])
            XCTAssertEqual(hs.authPacket.count, size + 2)
            XCTAssertTrue((body + 100 + ECIES.overhead...body + 199 + ECIES.overhead).contains(size), "size \(size)")
        }
    }

    func testBytesAfterThePacketAreLeftForTheFrameLayer() throws {
        let keyA = PrivateKey.generate(), keyB = PrivateKey.generate()
        for format in [HandshakeFormat.eip8, .legacy] {
            var initiator = try HandshakeInitiator(staticKey: keyA, remotePublicKey: keyB.publicKey, format: format)
            var responder = HandshakeResponder(staticKey: keyB)
            let trailing: [UInt8] = [0xde, 0xad, 0xbe, 0xef]
            let (outcome, usedAuth) = try finished(try responder.receiveAuth(initiator.authPacket + trailing))
            XCTAssertEqual(usedAuth, initiator.authPacket.count)
            let (_, usedAck) = try finished(try initiator.receiveAck(outcome.ackPacket + trailing))
            XCTAssertEqual(usedAck, outcome.ackPacket.count)
        }
    }

    func testInjectedRandomnessReproducesPackets() throws {
        let keyA = PrivateKey.generate(), keyB = PrivateKey.generate()
        let randomness = HandshakeRandomness(ephemeralKey: .generate(), nonce: [UInt8](repeating: 3, count: 32),
                                             paddingLength: 123, eciesKey: .generate(), eciesIV: [UInt8](repeating: 5, count: 16))
        let one = try HandshakeInitiator(staticKey: keyA, remotePublicKey: keyB.publicKey, randomness: randomness)
        let two = try HandshakeInitiator(staticKey: keyA, remotePublicKey: keyB.publicKey, randomness: randomness)
        XCTAssertEqual(one.authPacket, two.authPacket)
    }

    func testFinishedMachinesRefuseMoreInput() throws {
        let keyA = PrivateKey.generate(), keyB = PrivateKey.generate()
        var initiator = try HandshakeInitiator(staticKey: keyA, remotePublicKey: keyB.publicKey)
        var responder = HandshakeResponder(staticKey: keyB)
        let (outcome, _) = try finished(try responder.receiveAuth(initiator.authPacket))
        assertThrows(.alreadyFinished, try responder.receiveAuth(initiator.authPacket))
        _ = try finished(try initiator.receiveAck(outcome.ackPacket))
        assertThrows(.alreadyFinished, try initiator.receiveAck(outcome.ackPacket))
    }

    func testWrongRemoteKeyFails() throws {
        // The initiator dials B's address believing it is C: B cannot open the auth.
        let keyB = PrivateKey.generate(), keyC = PrivateKey.generate()
        let initiator = try HandshakeInitiator(staticKey: .generate(), remotePublicKey: keyC.publicKey)
        var responder = HandshakeResponder(staticKey: keyB)
        assertThrows(.ecies(.authenticationFailed), try responder.receiveAuth(initiator.authPacket))
    }
}
