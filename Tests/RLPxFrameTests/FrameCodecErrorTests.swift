import XCTest
import Keccak
@testable import RLPxFrame

/// Tampering, oversize frames and bad exported states.
final class FrameCodecErrorTests: XCTestCase {
    private func sessionAndFrame(size: Int, seed: UInt64 = 10) throws -> (SessionPair, [UInt8]) {
        var rng = SplitMix64(seed: seed)
        var pair = SessionPair(rng: &rng)
        let wire = try pair.a.encode(rng.bytes(size))
        return (pair, wire)
    }

    func testEveryTamperedByteIsAMACError() throws {
        let size = 40
        let (pair, wire) = try sessionAndFrame(size: size)
        let bodyStart = FrameLayout.headerAndMACLength
        for index in 0..<wire.count {
            var b = pair.b
            var tampered = wire
            tampered[index] ^= 0x01 << UInt8(index % 8)
            b.feed(tampered)
            let expected: FrameError = index < bodyStart ? .headerMACMismatch : .frameMACMismatch
            XCTAssertThrowsError(try b.nextFrame(), "byte \(index)") { error in
                XCTAssertEqual(error as? FrameError, expected, "byte \(index)")
            }
            // The failure is final, even if good bytes follow.
            b.feed(wire)
            XCTAssertThrowsError(try b.nextFrame())
            XCTAssertThrowsError(try b.exportState()) { error in
                XCTAssertEqual(error as? FrameStateError, .sessionFailed(expected))
            }
        }
    }

    func testOversizeHeaderRefusedBeforeTheBodyArrives() throws {
        var (pair, wire) = try sessionAndFrame(size: 5000)
        pair.b.decoder.maximumFrameSize = 2048 + 9
        pair.b.feed(wire[..<FrameLayout.headerAndMACLength])   // only the header and its MAC
        XCTAssertThrowsError(try pair.b.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .frameSizeExceedsLimit(size: 5000, limit: 2057))
        }
    }

    func testLoweringTheLimitAppliesToAHeaderAlreadyDecoded() throws {
        var (pair, wire) = try sessionAndFrame(size: 3000)
        pair.b.feed(wire[..<100])
        XCTAssertNil(try pair.b.nextFrame())
        pair.b.decoder.maximumFrameSize = 1000
        XCTAssertThrowsError(try pair.b.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .frameSizeExceedsLimit(size: 3000, limit: 1000))
        }
    }

    func testFrameAtTheLimitIsAccepted() throws {
        var (pair, wire) = try sessionAndFrame(size: 2057)
        pair.b.decoder.maximumFrameSize = 2057
        pair.b.feed(wire)
        XCTAssertEqual(try pair.b.nextFrame()?.count, 2057)
    }

    func testLimitIsClampedToTheFrameSizeField() throws {
        var (pair, wire) = try sessionAndFrame(size: 1)
        pair.b.decoder.maximumFrameSize = .max
        XCTAssertEqual(pair.b.decoder.maximumFrameSize, FrameLayout.maximumFrameSize)
        XCTAssertEqual(try FrameCodec(exportedState: pair.b.exportState()).decoder.maximumFrameSize,
                       FrameLayout.maximumFrameSize)
        pair.b.decoder.maximumFrameSize = -5
        XCTAssertEqual(pair.b.decoder.maximumFrameSize, 0)
        pair.b.feed(wire)
        XCTAssertThrowsError(try pair.b.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .frameSizeExceedsLimit(size: 1, limit: 0))
        }
    }

    func testFrameDataOf16MiBIsRefused() throws {
        var rng = SplitMix64(seed: 11)
        var pair = SessionPair(rng: &rng)
        let tooBig = [UInt8](repeating: 0, count: 1 << 24)
        XCTAssertThrowsError(try pair.a.encode(tooBig)) { error in
            XCTAssertEqual(error as? FrameError, .frameDataTooLarge(size: 1 << 24))
        }
        // The refusal consumed no keystream: the next frame still decodes on the other side.
        pair.b.feed(try pair.a.encode([1, 2, 3]))
        XCTAssertEqual(try pair.b.nextFrame(), [1, 2, 3])
    }

    func testEmptyFrame() throws {
        var (pair, wire) = try sessionAndFrame(size: 0)
        XCTAssertEqual(wire.count, 48)
        pair.b.feed(wire)
        XCTAssertEqual(try pair.b.nextFrame(), [])
    }

    // MARK: exported state

    private func exportedState(buffered: Int = 5) throws -> [UInt8] {
        var (pair, wire) = try sessionAndFrame(size: 100)
        pair.b.feed(wire[..<buffered])
        return try pair.b.exportState()
    }

    func testStateLengthIsFixedPartPlusBufferedBytes() throws {
        XCTAssertEqual(try exportedState(buffered: 5).count, FrameCodec.stateFixedLength + 5)
        XCTAssertEqual(FrameCodec.stateFixedLength, 774)
    }

    func testBadStatesAreRefused() throws {
        let good = try exportedState()
        XCTAssertNoThrow(try FrameCodec(exportedState: good))

        func refuses(_ state: [UInt8], _ expected: FrameStateError, line: UInt = #line) {
            XCTAssertThrowsError(try FrameCodec(exportedState: state), line: line) { error in
                XCTAssertEqual(error as? FrameStateError, expected, line: line)
            }
        }
        refuses([], .truncated(needed: 4, available: 0))
        var magic = good; magic[0] ^= 0xff
        refuses(magic, .badMagic)
        var version = good; version[4] = 2
        refuses(version, .unsupportedVersion(2))
        refuses(Array(good.prefix(500)), .truncated(needed: Keccak256.exportedStateLength, available: 500 - 423))
        refuses(good + [0], .lengthMismatch(expected: good.count, actual: good.count + 1))
        refuses(Array(good.dropLast()), .lengthMismatch(expected: good.count, actual: good.count - 1))
        var macFormat = good; macFormat[77] = 9
        refuses(macFormat, .invalidMACState(.unknownFormat(9)))
        var limit = good; limit[761] = 1
        refuses(limit, .invalidFrameSizeLimit(1 << 24 | Int(good[762]) << 16 | Int(good[763]) << 8 | Int(good[764])))
        var flag = good; flag[765] = 2
        refuses(flag, .invalidPendingHeader)
        var sizeWithoutFlag = good; sizeWithoutFlag[769] = 1
        refuses(sizeWithoutFlag, .invalidPendingHeader)
        var hugeCount = good; hugeCount[770] = 0xff
        refuses(hugeCount, .lengthMismatch(expected: 774 + (0xff00_0005), actual: good.count))
    }
}
