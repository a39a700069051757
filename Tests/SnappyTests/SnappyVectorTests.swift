import Foundation
import XCTest
import Snappy
import TestVectors

/// golang/snappy's raw-block vectors (vectors/snappy-block.json) and the Opticks golden files.
final class SnappyVectorTests: XCTestCase {
    private func vectors() throws -> [String: Any] {
        try XCTUnwrap(TestVectors.json("snappy-block.json") as? [String: Any])
    }

    func testInvalidLengthVarintsAreRefused() throws {
        let cases = try XCTUnwrap(vectors()["invalid_varint_cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 3)
        for c in cases {
            let input = TestVectors.hex(try XCTUnwrap(c["input"] as? String))
            let desc = c["desc"] as? String ?? ""
            XCTAssertThrowsError(try Snappy.decompress(input, limit: Int(UInt32.max)), desc) { error in
                XCTAssertEqual(error as? SnappyError, .invalidLengthPrefix, desc)
            }
        }
    }

    func testDecodeCasesValidAndCorrupt() throws {
        let cases = try XCTUnwrap(vectors()["decode_cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 30)
        var valid = 0, corrupt = 0
        for c in cases {
            let input = TestVectors.hex(try XCTUnwrap(c["input"] as? String))
            let desc = c["desc"] as? String ?? ""
            if let want = c["want"] as? String, c["want_error"] is NSNull {
                XCTAssertEqual(try Snappy.decompress(input), TestVectors.hex(want), desc)
                valid += 1
            } else {
                XCTAssertThrowsError(try Snappy.decompress(input), desc) { error in
                    XCTAssertEqual(error as? SnappyError, .corrupt, desc)
                }
                corrupt += 1
            }
        }
        XCTAssertEqual(valid + corrupt, 30)
        XCTAssertGreaterThan(valid, 0)
        XCTAssertGreaterThan(corrupt, 0)
    }

    func testLargeCopy4Recipe() throws {
        let recipe = try XCTUnwrap(vectors()["decode_copy4_large"] as? [String: Any])
        var input: [UInt8] = []
        for part in try XCTUnwrap(recipe["input_parts"] as? [[String: Any]]) {
            if let hex = part["hex"] as? String {
                input += TestVectors.hex(hex)
            } else {
                let byte = TestVectors.hex(try XCTUnwrap(part["repeat_hex"] as? String))
                let count = try XCTUnwrap(part["count"] as? Int)
                input += [UInt8](repeating: byte[0], count: count)
            }
        }
        XCTAssertEqual(TestVectors.hexString(Self.sha256(input)), recipe["input_sha256"] as? String)
        let output = try Snappy.decompress(input)
        XCTAssertEqual(output.count, 65545)
        XCTAssertEqual(TestVectors.hexString(Self.sha256(output)), recipe["want_sha256"] as? String)
        XCTAssertEqual(Array(output.suffix(5)), Array("pqrs.".utf8))
    }

    /// Reference-encoder outputs: libsnappy need not reproduce Go's bytes, so we check that we
    /// decode them exactly and that our own encoding of the same input round-trips.
    func testEncoderGoldensDecodeAndRoundTrip() throws {
        let goldens = try XCTUnwrap(vectors()["encode_golden"] as? [[String: Any]])
        XCTAssertEqual(goldens.count, 3)
        for g in goldens {
            let desc = g["desc"] as? String ?? ""
            let plain: [UInt8]
            let compressed: [UInt8]
            if let file = g["uncompressed_file"] as? String, let cfile = g["compressed_file"] as? String {
                plain = [UInt8](try TestVectors.data(file))
                compressed = [UInt8](try TestVectors.data(cfile))
                XCTAssertEqual(TestVectors.hexString(Self.sha256(plain)), g["uncompressed_sha256"] as? String)
                XCTAssertEqual(TestVectors.hexString(Self.sha256(compressed)), g["compressed_sha256"] as? String)
            } else {
                plain = TestVectors.hex(try XCTUnwrap(g["uncompressed"] as? String))
                compressed = TestVectors.hex(try XCTUnwrap(g["compressed"] as? String))
            }
            XCTAssertEqual(try Snappy.decompress(compressed), plain, desc)
            XCTAssertEqual(try Snappy.declaredLength(of: compressed), plain.count, desc)
            let ours = try Snappy.compress(plain)
            XCTAssertEqual(try Snappy.decompress(ours), plain, desc)
            XCTAssertLessThan(ours.count, plain.count, "\(desc): compressible input must shrink")
        }
    }

    /// The Opticks golden pair read straight from vectors/snappy-golden (the same bytes that the
    /// JSON carries as hex), with the hex prefix cross-checked.
    func testOpticksGoldenFiles() throws {
        let text = [UInt8](try TestVectors.data("snappy-golden/Isaac.Newton-Opticks.txt"))
        let block = [UInt8](try TestVectors.data("snappy-golden/Isaac.Newton-Opticks.txt.rawsnappy"))
        XCTAssertEqual(text.count, 16472)
        XCTAssertEqual(block.count, 9290)
        let golden = try XCTUnwrap((vectors()["encode_golden"] as? [[String: Any]])?.last)
        let hexPrefix = TestVectors.hex(try XCTUnwrap(golden["compressed_hex"] as? String))
        XCTAssertEqual(Array(block.prefix(hexPrefix.count)), hexPrefix)
        XCTAssertEqual(try Snappy.decompress(block), text)
        XCTAssertEqual(try Snappy.decompress(try Snappy.compress(text)), text)
        // One byte short, or one element cut off, must fail rather than return a short text.
        XCTAssertThrowsError(try Snappy.decompress(Array(block.dropLast())))
    }

    /// emit_literal: a literal element header followed by `length` bytes decodes to those bytes.
    func testEmitLiteralTagsDecode() throws {
        let cases = try XCTUnwrap(vectors()["emit_literal"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 13)
        for c in cases {
            let length = try XCTUnwrap(c["length"] as? Int)
            let tag = TestVectors.hex(try XCTUnwrap(c["tag"] as? String))
            let literal = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
            let block = Self.uvarint(length) + tag + literal
            XCTAssertEqual(try Snappy.decompress(block), literal, "literal length \(length)")
        }
    }

    /// emit_copy: after a literal of `offset` distinct bytes, the copy elements reproduce
    /// `length` bytes starting `offset` back (overlapping when length > offset).
    func testEmitCopyTagsDecode() throws {
        let cases = try XCTUnwrap(vectors()["emit_copy"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 48)
        for c in cases {
            let offset = try XCTUnwrap(c["offset"] as? Int)
            let length = try XCTUnwrap(c["length"] as? Int)
            let tags = TestVectors.hex(try XCTUnwrap(c["tags"] as? String))
            let prefix = (0..<offset).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
            var expected = prefix
            for _ in 0..<length { expected.append(expected[expected.count - offset]) }
            let block = Self.uvarint(offset + length) + Self.literalHeader(offset) + prefix + tags
            XCTAssertEqual(try Snappy.decompress(block), expected, "copy offset \(offset) length \(length)")
        }
    }

    // MARK: helpers

    static func uvarint(_ value: Int) -> [UInt8] {
        var v = UInt64(value)
        var out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }

    /// A literal element header (format_description.txt 2.1), written independently of the
    /// emit_literal vectors so that the copy test does not lean on them.
    static func literalHeader(_ length: Int) -> [UInt8] {
        let n = length - 1
        if n < 60 { return [UInt8(n << 2)] }
        var bytes: [UInt8] = []
        var v = n
        while v > 0 { bytes.append(UInt8(v & 0xff)); v >>= 8 }
        return [UInt8((59 + bytes.count) << 2)] + bytes
    }

    static func sha256(_ bytes: [UInt8]) -> [UInt8] { SHA256Reference.hash(bytes) }
}
