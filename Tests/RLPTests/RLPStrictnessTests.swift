import XCTest
import RLP

/// The canonical-form rules, boundaries and limits of the strict decoder, one rule per test.
final class RLPStrictnessTests: XCTestCase {
    func decodeError(_ bytes: [UInt8], depthLimit: Int = RLP.defaultDepthLimit) -> RLPError? {
        do { _ = try RLP.decode(bytes, depthLimit: depthLimit); return nil } catch { return error }
    }

    /// `levels` lists each holding the next, innermost empty: built with computed lengths so
    /// that very deep inputs do not need quadratic copying.
    func nestedLists(_ levels: Int) -> [UInt8] {
        var sizes = [1]   // encoded size of the innermost c0
        for _ in 1..<levels { sizes.append(RLP.headerLength(payloadLength: sizes.last!) + sizes.last!) }
        var out: [UInt8] = []
        out.reserveCapacity(sizes.last!)
        for level in stride(from: levels - 1, through: 1, by: -1) {
            RLP.appendHeader(length: sizes[level - 1], shortBase: 0xc0, to: &out)
        }
        out.append(0xc0)
        XCTAssertEqual(out.count, sizes.last!)
        return out
    }

    func testDepthLimitBoundary() throws {
        let limit = RLP.defaultDepthLimit
        var expected = RLPItem.list([])
        for _ in 1..<limit { expected = .list([expected]) }
        XCTAssertEqual(try RLP.decode(nestedLists(limit)), expected, "exactly the limit decodes")
        XCTAssertEqual(decodeError(nestedLists(limit + 1)), .depthLimitExceeded(limit: limit))
        XCTAssertEqual(decodeError(nestedLists(3), depthLimit: 2), .depthLimitExceeded(limit: 2))
        XCTAssertNoThrow(try RLP.decode(nestedLists(2), depthLimit: 2))
        // Byte strings do not count as a level.
        XCTAssertEqual(try RLP.decode([0x83, 0x64, 0x6f, 0x67], depthLimit: 0), .string("dog"))
    }

    func testHostileDepthIsRefusedWithoutExhaustingTheStack() {
        XCTAssertEqual(decodeError(nestedLists(100_000)), .depthLimitExceeded(limit: RLP.defaultDepthLimit))
    }

    func testShortLongBoundary() throws {
        let s55 = [UInt8](repeating: 0x61, count: 55)
        let s56 = [UInt8](repeating: 0x61, count: 56)
        XCTAssertEqual(Array(RLP.encode(.bytes(s55)).prefix(1)), [0xb7])
        XCTAssertEqual(Array(RLP.encode(.bytes(s56)).prefix(2)), [0xb8, 56])
        // 55 bytes spelled in the long form is a second encoding of the same value.
        XCTAssertEqual(decodeError([0xb8, 55] + s55), .nonCanonicalLongLength)
        XCTAssertEqual(try RLP.decode([0xb8, 56] + s56), .bytes(s56))

        let list55 = [RLPItem](repeating: .bytes([0x01]), count: 55)
        let list56 = [RLPItem](repeating: .bytes([0x01]), count: 56)
        XCTAssertEqual(Array(RLP.encode(.list(list55)).prefix(1)), [0xf7])
        XCTAssertEqual(Array(RLP.encode(.list(list56)).prefix(2)), [0xf8, 56])
        XCTAssertEqual(decodeError([0xf8, 55] + [UInt8](repeating: 0x01, count: 55)), .nonCanonicalLongLength)
    }

    func testSingleByteRule() throws {
        for b: UInt8 in [0x00, 0x01, 0x7f] {
            XCTAssertEqual(RLP.encode(.bytes([b])), [b])
            XCTAssertEqual(decodeError([0x81, b]), .nonCanonicalSingleByte)
        }
        XCTAssertEqual(RLP.encode(.bytes([0x80])), [0x81, 0x80])
        XCTAssertEqual(try RLP.decode([0x81, 0x80]), .bytes([0x80]))
        XCTAssertEqual(try RLP.decode([0x81, 0xff]), .bytes([0xff]))
    }

    func testLeadingZeroInLength() {
        XCTAssertEqual(decodeError([0xb9, 0x00, 0x38] + [UInt8](repeating: 0, count: 56)), .leadingZeroInLength)
        XCTAssertEqual(decodeError([0xf9, 0x00, 0x38] + [UInt8](repeating: 0xc0, count: 56)), .leadingZeroInLength)
    }

    func testTruncation() {
        XCTAssertEqual(decodeError([0x83, 0x64, 0x6f]), .truncated(needed: 3, available: 2))
        XCTAssertEqual(decodeError([0xb9, 0x01]), .truncated(needed: 2, available: 1))
        XCTAssertEqual(decodeError([0xb9, 0x01, 0x00]), .truncated(needed: 256, available: 0))
        // A child claiming more than its list holds is truncated even if bytes follow the list.
        XCTAssertEqual(decodeError([0xc2, 0x83, 0x61, 0x62, 0x63]), .truncated(needed: 3, available: 1))
        // A huge declared length is refused from the header alone, before any allocation.
        XCTAssertEqual(decodeError([0xbb, 0x7f, 0xff, 0xff, 0xff]), .truncated(needed: 0x7fff_ffff, available: 0))
        XCTAssertEqual(decodeError([0xbf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), .lengthTooLarge)
        XCTAssertEqual(decodeError([]), .empty)
        XCTAssertThrowsError(try RLP.decodePrefix([])) { XCTAssertEqual($0 as? RLPError, .empty) }
    }

    func testIntegers() throws {
        for v: UInt64 in [0, 1, 0x7f, 0x80, 0xff, 0x100, 1024, 0xffff_ffff, .max] {
            let encoded = RLP.encode(.uint(v))
            XCTAssertEqual(try RLP.decode(encoded).uintValue(), v)
        }
        XCTAssertEqual(RLP.encode(.uint(0)), [0x80])
        XCTAssertEqual(RLP.encode(.uint(.max)), [0x88] + [UInt8](repeating: 0xff, count: 8))
        XCTAssertThrowsError(try RLPItem.bytes([0x00, 0x01]).uintValue()) { XCTAssertEqual($0 as? RLPError, .leadingZeroInInteger) }
        XCTAssertThrowsError(try RLPItem.bytes([0x00]).uintValue()) { XCTAssertEqual($0 as? RLPError, .leadingZeroInInteger) }
        XCTAssertThrowsError(try RLPItem.bytes([UInt8](repeating: 1, count: 9)).uintValue()) { XCTAssertEqual($0 as? RLPError, .integerOverflow) }
        XCTAssertThrowsError(try RLPItem.list([]).uintValue()) { XCTAssertEqual($0 as? RLPError, .expectedBytes) }
        XCTAssertEqual(RLPItem.uint(bigEndian: [0, 0, 1, 0]), .bytes([1, 0]))
        XCTAssertEqual(RLPItem.uint(bigEndian: [0, 0]), .bytes([]))
    }

    func testTypedAccessors() throws {
        let item = RLPItem.list([.bytes([1, 2, 3])])
        XCTAssertEqual(try item.expectList(), [.bytes([1, 2, 3])])
        XCTAssertThrowsError(try item.expectBytes()) { XCTAssertEqual($0 as? RLPError, .expectedBytes) }
        XCTAssertEqual(try item.expectList()[0].expectBytes(count: 3), [1, 2, 3])
        XCTAssertThrowsError(try item.expectList()[0].expectBytes(count: 4)) {
            XCTAssertEqual($0 as? RLPError, .wrongByteCount(expected: 4, actual: 3))
        }
        XCTAssertThrowsError(try RLPItem.bytes([]).expectList()) { XCTAssertEqual($0 as? RLPError, .expectedList) }
    }

    func testErrorsDescribeThemselves() {
        XCTAssertEqual(RLPError.truncated(needed: 3, available: 2).description, "rlp: value needs 3 bytes but only 2 remain")
        XCTAssertTrue(RLPError.depthLimitExceeded(limit: 64).description.contains("64"))
    }
}
