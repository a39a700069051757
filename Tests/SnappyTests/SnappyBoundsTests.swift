import XCTest
import Snappy

/// The devp2p-specific behaviour around libsnappy: the declared length is bounded before
/// allocation, and compression round-trips arbitrary data.
final class SnappyBoundsTests: XCTestCase {
    func testDeclaredLengthAboveLimitIsRefusedBeforeDecoding() throws {
        // Declares 16 MiB (one over devp2p's maxUint24) followed by no elements at all: if the
        // bound were checked after decoding, this would report corruption instead.
        let block = SnappyVectorTests.uvarint(1 << 24)
        XCTAssertThrowsError(try Snappy.decompress(block)) { error in
            XCTAssertEqual(error as? SnappyError,
                           .declaredLengthTooLarge(declared: 1 << 24, limit: Snappy.devp2pMaximumDecodedLength))
        }
        // Exactly at the limit is allowed past the bound (and then fails only as corrupt).
        XCTAssertThrowsError(try Snappy.decompress(SnappyVectorTests.uvarint((1 << 24) - 1))) { error in
            XCTAssertEqual(error as? SnappyError, .corrupt)
        }
    }

    func testCallerGivenLimit() throws {
        let plain = [UInt8](repeating: 0x61, count: 100)
        let block = try Snappy.compress(plain)
        XCTAssertEqual(try Snappy.decompress(block, limit: 100), plain)
        XCTAssertThrowsError(try Snappy.decompress(block, limit: 99)) { error in
            XCTAssertEqual(error as? SnappyError, .declaredLengthTooLarge(declared: 100, limit: 99))
        }
        XCTAssertEqual(try Snappy.declaredLength(of: block, limit: 100), 100)
    }

    func testEmptyInput() throws {
        XCTAssertEqual(try Snappy.compress([]), [0])
        XCTAssertEqual(try Snappy.decompress([0]), [])
        XCTAssertThrowsError(try Snappy.decompress([])) { error in
            XCTAssertEqual(error as? SnappyError, .invalidLengthPrefix)
        }
        XCTAssertThrowsError(try Snappy.decompress([0, 0])) { error in
            XCTAssertEqual(error as? SnappyError, .corrupt)
        }
    }

    /// Seeded, bounded: random sizes and contents (from incompressible to highly repetitive).
    func testRoundTripRandomInputs() throws {
        var rng = SplitMix64(seed: 0x5eed_5a99)
        for round in 0..<200 {
            let size = Int(rng.next() % 70_000)
            let alphabet = UInt8(1 + rng.next() % 255)
            let data = (0..<size).map { _ in UInt8(rng.next() % UInt64(alphabet)) }
            let block = try Snappy.compress(data)
            XCTAssertEqual(try Snappy.declaredLength(of: block), size, "round \(round)")
            XCTAssertEqual(try Snappy.decompress(block), data, "round \(round)")
        }
    }

    /// Truncating a valid block anywhere after the prefix must be an error, never a short output.
    func testEveryTruncationFails() throws {
        let text = Array("the quick brown fox jumps over the lazy dog; the quick brown fox again".utf8)
        let block = try Snappy.compress(text)
        for cut in 1..<block.count {
            XCTAssertThrowsError(try Snappy.decompress(Array(block.prefix(cut))), "cut at \(cut)")
        }
    }
}

/// A small deterministic generator so property tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
