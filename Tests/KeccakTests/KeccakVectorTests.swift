import XCTest
import Keccak
import TestVectors

/// ../shared/vectors/keccak256.json: the Keccak team's ShortMsgKAT_256 byte-aligned entries
/// (0 to 255 bytes, so across the 136-byte rate) and the named Ethereum vectors.
final class KeccakVectorTests: XCTestCase {
    struct Vector { let name: String; let msg: [UInt8]; let md: String }

    func katEntries() throws -> [Vector] {
        let file = try XCTUnwrap(TestVectors.json("keccak256.json") as? [String: Any])
        let kat = try XCTUnwrap(file["short_msg_kat"] as? [[String: Any]])
        return try kat.map { entry in
            let len = try XCTUnwrap(entry["len"] as? Int)
            let msg = TestVectors.hex(try XCTUnwrap(entry["msg"] as? String))
            XCTAssertEqual(msg.count, len, "KAT entry length")
            return Vector(name: "KAT len \(len)", msg: msg, md: try XCTUnwrap(entry["md"] as? String))
        }
    }

    func namedVectors() throws -> [Vector] {
        let file = try XCTUnwrap(TestVectors.json("keccak256.json") as? [String: Any])
        let named = try XCTUnwrap(file["named_vectors"] as? [[String: Any]])
        return try named.map { entry in
            Vector(name: try XCTUnwrap(entry["name"] as? String),
                   msg: TestVectors.hex(try XCTUnwrap(entry["msg"] as? String)),
                   md: try XCTUnwrap(entry["md"] as? String))
        }
    }

    func testAllShortMsgKATEntries() throws {
        let entries = try katEntries()
        XCTAssertEqual(entries.count, 256)
        XCTAssertEqual(entries.map(\.msg.count), Array(0..<256))
        for v in entries {
            XCTAssertEqual(TestVectors.hexString(Keccak256.hash(v.msg)), v.md, v.name)
        }
    }

    func testNamedVectors() throws {
        let named = try namedVectors()
        XCTAssertEqual(named.count, 5)
        for v in named {
            XCTAssertEqual(TestVectors.hexString(Keccak256.hash(v.msg)), v.md, v.name)
        }
    }

    /// The eth-hash incremental case: 'arst' then 'tsra' equals 'arsttsra', and reading the
    /// digest after 'arst' does not finalise the hasher.
    func testDigestDoesNotFinalise() throws {
        let named = Dictionary(uniqueKeysWithValues: try namedVectors().map { ($0.name, $0) })
        var h = Keccak256()
        h.update(Array("arst".utf8))
        XCTAssertEqual(TestVectors.hexString(h.digest()), named["arst"]?.md)
        XCTAssertEqual(TestVectors.hexString(h.digest()), named["arst"]?.md, "digest() twice")
        h.update(Array("tsra".utf8))
        XCTAssertEqual(TestVectors.hexString(h.digest()), named["arsttsra"]?.md)
    }

    /// Every entry, fed through each update overload, agrees with the one-shot hash.
    func testUpdateOverloadsAgree() throws {
        for v in try katEntries() {
            var fromSlice = Keccak256()
            let padded = [0xee] + v.msg + [0xee]
            fromSlice.update(padded[1..<(padded.count - 1)])
            XCTAssertEqual(TestVectors.hexString(fromSlice.digest()), v.md, "slice \(v.name)")
            var fromRaw = Keccak256()
            v.msg.withUnsafeBytes { fromRaw.update($0) }
            XCTAssertEqual(TestVectors.hexString(fromRaw.digest()), v.md, "raw \(v.name)")
        }
    }
}
