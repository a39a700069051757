import Foundation
import XCTest
import RLP
import TestVectors

/// ethereum/tests RLPTests via ../shared/vectors/rlp-valid.json and rlp-invalid.json.
final class RLPVectorTests: XCTestCase {
    func testEveryValidVectorEncodesAndDecodesStrictly() throws {
        let file = try XCTUnwrap(TestVectors.json("rlp-valid.json") as? [String: Any])
        let tests = try XCTUnwrap(file["tests"] as? [String: Any])
        XCTAssertEqual(tests.count, 28, "the vector file documents 28 consistent cases")
        for (name, value) in tests.sorted(by: { $0.key < $1.key }) {
            let test = try XCTUnwrap(value as? [String: Any], name)
            let input = try item(fromVectorInput: XCTUnwrap(test["in"], name), name: name)
            let out = TestVectors.hex(try XCTUnwrap(test["out"] as? String, name))
            XCTAssertEqual(RLP.encode(input), out, "encode \(name)")
            XCTAssertEqual(RLP.encodedLength(input), out.count, "encodedLength \(name)")
            XCTAssertEqual(try RLP.decode(out), input, "decode \(name)")
            XCTAssertEqual(try RLP.prefixLength(out), out.count, "prefixLength \(name)")
        }
    }

    func testEveryInvalidVectorIsRejected() throws {
        let file = try XCTUnwrap(TestVectors.json("rlp-invalid.json") as? [String: Any])
        let tests = try XCTUnwrap(file["tests"] as? [String: Any])
        XCTAssertEqual(tests.count, 26, "the vector file documents 26 cases")
        for (name, value) in tests.sorted(by: { $0.key < $1.key }) {
            let test = try XCTUnwrap(value as? [String: Any], name)
            let out = TestVectors.hex(try XCTUnwrap(test["out"] as? String, name))
            XCTAssertThrowsError(try RLP.decode(out), "\(name) must be rejected")
        }
    }

    /// The reason each invalid vector is refused names the rule its category documents.
    func testInvalidVectorsFailForTheDocumentedReason() throws {
        let file = try XCTUnwrap(TestVectors.json("rlp-invalid.json") as? [String: Any])
        let tests = try XCTUnwrap(file["tests"] as? [String: Any])
        func error(_ name: String) throws -> RLPError? {
            let test = try XCTUnwrap(tests[name] as? [String: Any], name)
            let out = TestVectors.hex(try XCTUnwrap(test["out"] as? String, name))
            do { _ = try RLP.decode(out); return nil } catch { return error }
        }
        XCTAssertEqual(try error("emptyEncoding"), .empty)
        for name in ["bytesShouldBeSingleByte00", "bytesShouldBeSingleByte01", "bytesShouldBeSingleByte7F"] {
            XCTAssertEqual(try error(name), .nonCanonicalSingleByte, name)
        }
        for name in ["leadingZerosInLongLengthArray1", "leadingZerosInLongLengthArray2",
                     "leadingZerosInLongLengthList1", "leadingZerosInLongLengthList2", "incorrectLengthInArray",
                     "randomRLP"] {
            XCTAssertEqual(try error(name), .leadingZeroInLength, name)
        }
        for name in ["nonOptimalLongLengthArray1", "nonOptimalLongLengthArray2", "nonOptimalLongLengthList1",
                     "nonOptimalLongLengthList2", "wrongSizeList", "wrongSizeList2"] {
            XCTAssertEqual(try error(name), .nonCanonicalLongLength, name)
        }
        // A declared length beyond the bytes present.
        for name in ["lessThanShortLengthArray1", "lessThanShortLengthArray2", "lessThanShortLengthList1",
                     "lessThanShortLengthList2", "lessThanLongLengthArray1", "lessThanLongLengthArray2",
                     "lessThanLongLengthList1"] {
            let e = try error(name)
            guard case .truncated? = e else { XCTFail("\(name): \(String(describing: e))"); continue }
        }
        // An 8-byte length with a nonzero first byte is refused before it is even assembled.
        for name in ["int32Overflow", "int32Overflow2", "lessThanLongLengthList2"] {
            XCTAssertEqual(try error(name), .lengthTooLarge, name)
        }
    }

    // MARK: the vector file's 'in' conventions

    /// A JSON string is its UTF-8 bytes, an integer or a "#decimal" string is a minimal
    /// big-endian integer, an array is a list (rlp-valid.json notes).
    private func item(fromVectorInput value: Any, name: String) throws -> RLPItem {
        if let s = value as? String {
            if s.hasPrefix("#") { return .uint(bigEndian: try bigEndian(decimal: String(s.dropFirst()), name: name)) }
            return .string(s)
        }
        if let array = value as? [Any] {
            return .list(try array.map { try item(fromVectorInput: $0, name: name) })
        }
        if let number = value as? NSNumber {
            let v = number.int64Value
            XCTAssertGreaterThanOrEqual(v, 0, name)
            XCTAssertEqual(NSNumber(value: v), number, "\(name): integer in vector must be exact")
            return .uint(UInt64(v))
        }
        throw VectorError.unexpected(name)
    }

    /// Decimal digits to big-endian bytes (schoolbook multiply-by-10-and-add).
    private func bigEndian(decimal: String, name: String) throws -> [UInt8] {
        var bytes: [UInt8] = []   // little-endian while building
        for ch in decimal.utf8 {
            guard ch >= UInt8(ascii: "0"), ch <= UInt8(ascii: "9") else { throw VectorError.unexpected(name) }
            var carry = UInt(ch - UInt8(ascii: "0"))
            for i in bytes.indices {
                let v = UInt(bytes[i]) * 10 + carry
                bytes[i] = UInt8(truncatingIfNeeded: v)
                carry = v >> 8
            }
            while carry > 0 { bytes.append(UInt8(truncatingIfNeeded: carry)); carry >>= 8 }
        }
        return bytes.reversed()
    }

    private enum VectorError: Error { case unexpected(String) }
}
