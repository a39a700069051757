import XCTest
import RLP

/// Seeded random trees: the encoder and the strict decoder are inverses, every truncation is
/// refused, and lengths agree. Seeds are fixed so a failure reproduces.
final class RLPPropertyTests: XCTestCase {
    /// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, good enough to pick shapes.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    /// Byte-string lengths the encoder treats differently: empty, one byte (below and above
    /// 0x80), around the 55/56 short/long boundary, and past 255 and 65535 (2- and 3-byte lengths).
    static let interestingLengths = [0, 1, 1, 2, 54, 55, 56, 57, 255, 256, 1024, 65_535, 65_536]
    /// Trees are at most this deep and wide: big enough for every header form, small enough
    /// that a debug-build run takes seconds.
    static let maxDepth = 5, maxWidth = 5

    func randomBytes(_ rng: inout SeededGenerator) -> [UInt8] {
        let length: Int
        if Int.random(in: 0..<4, using: &rng) == 0 {
            length = Self.interestingLengths.randomElement(using: &rng)!
        } else {
            length = Int.random(in: 0...70, using: &rng)
        }
        // Eight bytes per draw: byte-at-a-time generation dominated the test's run time.
        var out = [UInt8](repeating: 0, count: length)
        var i = 0
        while i < length {
            var word = rng.next()
            for _ in 0..<min(8, length - i) { out[i] = UInt8(truncatingIfNeeded: word); word >>= 8; i += 1 }
        }
        return out
    }

    func randomTree(_ rng: inout SeededGenerator, depth: Int) -> RLPItem {
        if depth >= Self.maxDepth || Int.random(in: 0..<3, using: &rng) == 0 {
            return .bytes(randomBytes(&rng))
        }
        let width = Int.random(in: 0...Self.maxWidth, using: &rng)
        return .list((0..<width).map { _ in randomTree(&rng, depth: depth + 1) })
    }

    func testRandomTreesRoundTrip() throws {
        var rng = SeededGenerator(state: 0x5eed_0001)
        for i in 0..<300 {
            let tree = randomTree(&rng, depth: 0)
            let encoded = RLP.encode(tree)
            XCTAssertEqual(RLP.encodedLength(tree), encoded.count, "tree \(i)")
            XCTAssertEqual(try RLP.decode(encoded), tree, "tree \(i)")
            // Followed by other data, the prefix decoder stops exactly at the value's end.
            let (prefixed, used) = try RLP.decodePrefix(encoded + [0x01, 0xc0])
            XCTAssertEqual(prefixed, tree, "tree \(i)")
            XCTAssertEqual(used, encoded.count, "tree \(i)")
            XCTAssertEqual(try RLP.prefixLength(encoded + [0xff]), encoded.count, "tree \(i)")
            XCTAssertThrowsError(try RLP.decode(encoded + [0x00]), "tree \(i) with a trailing byte") { error in
                XCTAssertEqual(error as? RLPError, .trailingBytes(count: 1))
            }
        }
    }

    /// Every proper prefix of a canonical encoding is refused (nothing reads past the end).
    func testEveryTruncationIsRefused() {
        var rng = SeededGenerator(state: 0x5eed_0002)
        var checked = 0
        while checked < 60 {
            let tree = randomTree(&rng, depth: 0)
            let encoded = RLP.encode(tree)
            guard encoded.count <= 2_000 else { continue }   // keep the quadratic loop bounded
            checked += 1
            for cut in 0..<encoded.count {
                XCTAssertThrowsError(try RLP.decode(Array(encoded[..<cut])), "cut \(cut) of \(encoded.count)")
            }
        }
    }

    /// Decoding a slice that does not start at index 0 sees exactly the slice.
    func testSliceDecodingUsesTheSliceBounds() throws {
        let value = RLPItem.list([.string("dog"), .uint(1024)])
        let framed = [0xaa, 0xbb] + RLP.encode(value) + [0xcc]
        let slice = framed[2..<(framed.count - 1)]
        XCTAssertEqual(try RLP.decode(slice), value)
        let (prefixed, used) = try RLP.decodePrefix(framed[2...])
        XCTAssertEqual(prefixed, value)
        XCTAssertEqual(used, framed.count - 3)
    }
}
