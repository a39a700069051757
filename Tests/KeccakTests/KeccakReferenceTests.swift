import XCTest
import Keccak

/// The optimised permutation (unrolled, lane-complemented, multi-block) against a plain
/// textbook Keccak written here from FIPS 202's step definitions, on inputs far longer than
/// the KAT's 255 bytes.
final class KeccakReferenceTests: XCTestCase {
    /// FIPS 202 section 3.2, literally: arrays, loops, mod-5 indices. Slow and obvious.
    struct ReferenceKeccak256 {
        var lanes = [UInt64](repeating: 0, count: 25)   // lane (x, y) at x + 5y

        static let rho: [UInt64] = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14]

        /// RC of a round from the rc(t) LFSR of FIPS 202 algorithms 5 and 6, not from a table.
        static func roundConstant(_ round: Int) -> UInt64 {
            func rc(_ t: Int) -> UInt64 {
                if t % 255 == 0 { return 1 }
                var r: UInt16 = 1            // bit k is R[k]; R = 10000000
                for _ in 0..<(t % 255) {
                    r <<= 1                  // R = 0 || R
                    if r & 0x100 != 0 {      // R[0], R[4], R[5], R[6] ^= R[8]
                        r ^= 0b0111_0001
                    }
                    r &= 0xff                // Trunc8
                }
                return UInt64(r & 1)
            }
            var value: UInt64 = 0
            for j in 0...6 { value |= rc(j + 7 * round) << ((1 << j) - 1) }
            return value
        }

        static func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 { n == 0 ? x : (x << n) | (x >> (64 - n)) }

        mutating func permute() {
            for round in 0..<24 {
                var c = [UInt64](repeating: 0, count: 5)
                for x in 0..<5 { for y in 0..<5 { c[x] ^= lanes[x + 5 * y] } }
                for x in 0..<5 {
                    let d = c[(x + 4) % 5] ^ Self.rotl(c[(x + 1) % 5], 1)
                    for y in 0..<5 { lanes[x + 5 * y] ^= d }
                }
                var b = [UInt64](repeating: 0, count: 25)
                for x in 0..<5 {
                    for y in 0..<5 {
                        b[y + 5 * ((2 * x + 3 * y) % 5)] = Self.rotl(lanes[x + 5 * y], Self.rho[x + 5 * y])
                    }
                }
                for x in 0..<5 {
                    for y in 0..<5 {
                        lanes[x + 5 * y] = b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y])
                    }
                }
                lanes[0] ^= Self.roundConstant(round)
            }
        }

        mutating func absorb(_ block: ArraySlice<UInt8>) {
            let bytes = Array(block)
            for i in 0..<(Keccak256.rate / 8) {
                var lane: UInt64 = 0
                for k in 0..<8 { lane |= UInt64(bytes[i * 8 + k]) << (8 * UInt64(k)) }
                lanes[i] ^= lane
            }
            permute()
        }

        static func hash(_ message: [UInt8]) -> [UInt8] {
            var k = ReferenceKeccak256()
            var padded = message + [0x01]
            while padded.count % Keccak256.rate != 0 { padded.append(0) }
            padded[padded.count - 1] |= 0x80
            for start in stride(from: 0, to: padded.count, by: Keccak256.rate) {
                k.absorb(padded[start..<(start + Keccak256.rate)])
            }
            return (0..<32).map { UInt8(truncatingIfNeeded: k.lanes[$0 / 8] >> (8 * UInt64($0 % 8))) }
        }
    }

    func testReferenceMatchesKnownDigest() {
        // Guards the reference itself: keccak256("abc") from go-ethereum's crypto_test.go.
        XCTAssertEqual(ReferenceKeccak256.hash(Array("abc".utf8)).map { String(format: "%02x", $0) }.joined(),
                       "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
    }

    func testLongMessagesMatchTheReference() {
        var seed: UInt64 = 0x0123_4567_89ab_cdef
        func next() -> UInt64 {   // xorshift64 (Marsaglia 2003): a fixed, reproducible stream
            seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
            return seed
        }
        let lengths = [136 * 2, 136 * 3 - 1, 136 * 7 + 1, 1024, 4096, 16 * 1024 + 3] + (0..<20).map { _ in Int(next() % 3000) }
        for length in lengths {
            let message = (0..<length).map { _ in UInt8(truncatingIfNeeded: next()) }
            let expected = ReferenceKeccak256.hash(message)
            XCTAssertEqual(Keccak256.hash(message), expected, "length \(length)")
            // The same input in uneven chunks: the buffered path and the bulk path interleave.
            var h = Keccak256()
            var offset = 0
            while offset < message.count {
                let take = min(message.count - offset, Int(next() % 700))
                h.update(message[offset..<(offset + take)])
                offset += take
            }
            XCTAssertEqual(h.digest(), expected, "chunked length \(length)")
        }
    }

    /// The exported lanes are the plain state: the lane-complementing of the rounds never leaks.
    func testExportedLanesAreTheTextbookState() {
        let message = (0..<(Keccak256.rate * 3)).map { UInt8(truncatingIfNeeded: $0 &* 97) }
        var reference = ReferenceKeccak256()
        for start in stride(from: 0, to: message.count, by: Keccak256.rate) {
            reference.absorb(message[start..<(start + Keccak256.rate)])
        }
        var h = Keccak256()
        h.update(message)
        let exported = h.exportState()
        for i in 0..<25 {
            var lane: UInt64 = 0
            for k in 0..<8 { lane |= UInt64(exported[1 + i * 8 + k]) << (8 * UInt64(k)) }
            XCTAssertEqual(lane, reference.lanes[i], "lane \(i)")
        }
    }
}
