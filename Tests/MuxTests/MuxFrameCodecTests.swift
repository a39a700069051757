import Mux
import XCTest

/// What the frame decoder refuses, skips and ignores (ipc/MUX.md, "Frame layout").
final class MuxFrameCodecTests: XCTestCase {
    func assertMalformed(_ bytes: [UInt8], _ message: String, line: UInt = #line) {
        XCTAssertThrowsError(try MuxFrameCodec.decode(bytes), message, line: line)
    }

    func testMetadataLengthBounds() {
        assertMalformed([0x00, 0x03, 0x00, 0x01, 0x02], "metadata of 3 bytes")
        assertMalformed([0x00, 0x00], "metadata of 0 bytes")
        var big: [UInt8] = [0x02, 0x01, 0x00, 0x01, 0x02, 0x00]
        big += [UInt8](repeating: 0, count: 513 - 4)
        assertMalformed(big, "metadata of 513 bytes")
        var max: [UInt8] = [0x02, 0x00, 0x00, 0x01, 0x02, 0x00]
        max += [UInt8](repeating: 0xee, count: 512 - 4)
        XCTAssertEqual(try MuxFrameCodec.decode(max), [.keep(1)], "512 bytes of metadata, the rest skipped")
    }

    func testUnknownStatusIsMalformed() {
        for status: UInt8 in [0x00, 0x05, 0xff] {
            assertMalformed([0x00, 0x04, 0x00, 0x01, status, 0x00], "status \(status)")
        }
    }

    func testTruncation() {
        let frame = MuxFrameCodec.encode([.keep(7, data: [1, 2, 3, 4])])
        for cut in 1..<frame.count {
            assertMalformed(Array(frame.prefix(cut)), "cut at \(cut)")
        }
        assertMalformed([0x00], "half a metadata length")
        XCTAssertEqual(try MuxFrameCodec.decode([]), [], "an empty payload holds no frames")
    }

    func testNewTargetErrors() {
        // metadata: id 1, New, no option, then the target bytes given
        func new(_ target: [UInt8]) -> [UInt8] { [0x00, UInt8(4 + target.count), 0x00, 0x01, 0x01, 0x00] + target }
        assertMalformed(new([0x01, 0x00, 0x50]), "target without address type")
        assertMalformed(new([0x03, 0x00, 0x50, 0x01, 1, 2, 3, 4]), "unknown network")
        assertMalformed(new([0x01, 0x00, 0x50, 0x04, 1, 2, 3, 4]), "unknown address type")
        assertMalformed(new([0x01, 0x00, 0x50, 0x01, 1, 2, 3]), "IPv4 cut short")
        assertMalformed(new([0x01, 0x00, 0x50, 0x03] + [UInt8](repeating: 0, count: 15)), "IPv6 cut short")
        assertMalformed(new([0x01, 0x00, 0x50, 0x02]), "domain without length")
        assertMalformed(new([0x01, 0x00, 0x50, 0x02, 0x00]), "empty domain (v2ray's 256-byte overflow)")
        assertMalformed(new([0x01, 0x00, 0x50, 0x02, 0x05, 0x61, 0x62]), "domain cut short")
        assertMalformed(new([0x01, 0x00, 0x50, 0x02, 0x02, 0xc3, 0x28]), "domain not UTF-8")
        XCTAssertEqual(try MuxFrameCodec.decode(new([0x02, 0x00, 0x35, 0x01, 10, 0, 0, 1])),
                       [.new(1, target: MuxTarget(network: .udp, address: .ipv4([10, 0, 0, 1]), port: 53))])
    }

    func testExtraMetadataBytesAreSkipped() throws {
        // Keep with Data, 3 unknown metadata bytes, then the data length and data
        let bytes: [UInt8] = [0x00, 0x07, 0x00, 0x09, 0x02, 0x01, 0xaa, 0xbb, 0xcc, 0x00, 0x02, 0x41, 0x42]
        XCTAssertEqual(try MuxFrameCodec.decode(bytes), [.keep(9, data: [0x41, 0x42])])
        // New with IPv4 and two trailing bytes
        let new: [UInt8] = [0x00, 0x0e, 0x00, 0x01, 0x01, 0x00, 0x01, 0x00, 0x50, 0x01, 1, 2, 3, 4, 0xde, 0xad]
        XCTAssertEqual(try MuxFrameCodec.decode(new), [.new(1, target: MuxTarget(address: .ipv4([1, 2, 3, 4]), port: 80))])
        // End without Error, with a byte after: not an error code
        XCTAssertEqual(try MuxFrameCodec.decode([0x00, 0x05, 0x00, 0x01, 0x03, 0x00, 0x07]), [.end(1)])
    }

    func testUnknownOptionBitsAreIgnored() throws {
        XCTAssertEqual(try MuxFrameCodec.decode([0x00, 0x04, 0x00, 0x01, 0x02, 0xf8]), [.keep(1)])
        XCTAssertEqual(try MuxFrameCodec.decode([0x00, 0x04, 0x00, 0x01, 0x02, 0xfc]), [.keep(1, fin: true)])
    }

    func testEndErrorWithoutCodeAsV2rayWritesIt() throws {
        let frames = try MuxFrameCodec.decode([0x00, 0x04, 0x00, 0x03, 0x03, 0x02])
        XCTAssertEqual(frames.first?.options, .error)
        XCTAssertNil(frames.first?.errorCode)
        XCTAssertEqual(MuxFrameCodec.encode(frames), [0x00, 0x04, 0x00, 0x03, 0x03, 0x02])
        XCTAssertEqual(try MuxFrameCodec.decode([0x00, 0x05, 0x00, 0x03, 0x03, 0x02, 0x99]).first?.errorCode, .other(0x99))
    }

    func testDataOptionWithNoBytesIsNoData() throws {
        XCTAssertEqual(try MuxFrameCodec.decode([0x00, 0x04, 0x00, 0x01, 0x02, 0x01, 0x00, 0x00]), [.keep(1)])
    }

    func testLargestDomainAndData() throws {
        let name = String(repeating: "a", count: 255)
        let frame = MuxFrame.new(7, target: MuxTarget(address: .domain(name), port: 443), data: [UInt8](repeating: 9, count: 65_535))
        XCTAssertEqual(try MuxFrameCodec.decode(MuxFrameCodec.encode([frame, .keep(7, fin: true)])), [frame, .keep(7, fin: true)])
        XCTAssertTrue(frame.target!.isEncodable)
        XCTAssertFalse(MuxTarget(address: .domain(name + "a"), port: 443).isEncodable)
        XCTAssertFalse(MuxTarget.service("").isEncodable)
        XCTAssertFalse(MuxTarget(address: .ipv4([1, 2, 3]), port: 1).isEncodable)
    }

    func testWindowUpdateErrors() {
        XCTAssertThrowsError(try MuxWindowUpdate.decode([]))
        XCTAssertThrowsError(try MuxWindowUpdate.decode([0, 1, 0, 0, 0]))
        XCTAssertThrowsError(try MuxWindowUpdate.decode([0, 1, 0, 0, 0, 0]), "increment 0")
        XCTAssertThrowsError(try MuxWindowUpdate.decode([0, 1, 0x80, 0, 0, 0]), "increment 2^31")
        XCTAssertEqual(try MuxWindowUpdate.decode([0, 1, 0x7f, 0xff, 0xff, 0xff]), [MuxWindowUpdate(sessionID: 1, increment: 0x7fff_ffff)])
    }
}
