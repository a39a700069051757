import Foundation
import IPC
import TestVectors
import XCTest

/// The golden frames of ipc/PROTOCOL.md: the document and the code agree byte for byte.
final class GoldenFrameTests: XCTestCase {
    /// Every ```golden NAME block of ipc/PROTOCOL.md, as bytes.
    static func documentGoldens() throws -> [String: [UInt8]] {
        try TestVectors.goldenBlocks("ipc/PROTOCOL.md")
    }

    func testDocumentHasOneGoldenPerMessageType() throws {
        let goldens = try Self.documentGoldens()
        XCTAssertEqual(Set(goldens.keys), Set(IPCMessageType.allCases.map(\.name)))
        XCTAssertEqual(Set(Examples.frames.keys), Set(goldens.keys))
    }

    func testEveryExampleEncodesToItsGolden() throws {
        let goldens = try Self.documentGoldens()
        for (name, frame) in Examples.frames {
            let encoded = try frame.encoded()
            XCTAssertEqual(TestVectors.hexString(encoded), goldens[name].map(TestVectors.hexString), name)
        }
    }

    func testEveryGoldenDecodesToItsExample() throws {
        let goldens = try Self.documentGoldens()
        for (name, bytes) in goldens {
            let frame = try XCTUnwrap(Examples.frames[name], name)
            let decoded = try IPCFrame.decode(bytes, receivedDescriptors: frame.message.type.descriptorCount)
            XCTAssertEqual(decoded, frame, name)
            XCTAssertEqual(decoded.message.type.name, name)
        }
    }

    /// The examples' node id is the published EIP-8 key, spelled out in the golden bytes.
    func testGoldenNodeIDIsTheEIP8VectorKey() throws {
        let golden = try XCTUnwrap(try Self.documentGoldens()["DialRequest"])
        // header 12 + connection id 8, then the 64-byte node id
        XCTAssertEqual(Array(golden[20..<84]), Examples.nodeID)
        XCTAssertEqual(TestVectors.hexString(Examples.nodeID).prefix(8), "fda1cff6")
    }

    /// Spot check of the header layout against a hand-written frame.
    func testChildReadyBytesByHand() throws {
        let frame = IPCFrame(.childReady(.init(role: .acceptor, index: 0x0102, pid: 0x0a0b0c0d)))
        XCTAssertEqual(try frame.encoded(), hex("""
            01 01 00 00  00 00 00 07  00 00 00 00
            00  01 02  0a 0b 0c 0d
            """))
    }
}
