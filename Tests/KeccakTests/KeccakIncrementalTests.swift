import XCTest
import Keccak
import TestVectors

/// Split updates and state export/import: the properties RLPx's running MAC states rely on.
final class KeccakIncrementalTests: XCTestCase {
    /// A message longer than two rates, so splits fall before, on and after block boundaries.
    let message: [UInt8] = (0..<(2 * Keccak256.rate + 37)).map { UInt8(truncatingIfNeeded: $0 &* 151 &+ 7) }

    /// The 250-byte KAT entry (two blocks) from the vector file.
    func kat250() throws -> (msg: [UInt8], md: String) {
        let file = try XCTUnwrap(TestVectors.json("keccak256.json") as? [String: Any])
        let kat = try XCTUnwrap(file["short_msg_kat"] as? [[String: Any]])
        let entry = try XCTUnwrap(kat.first { ($0["len"] as? Int) == 250 })
        return (TestVectors.hex(try XCTUnwrap(entry["msg"] as? String)), try XCTUnwrap(entry["md"] as? String))
    }

    func testEverySplitOfAVectorGivesItsDigest() throws {
        let (msg, md) = try kat250()
        for cut in 0...msg.count {
            var h = Keccak256()
            h.update(msg[..<cut])
            h.update(msg[cut...])
            XCTAssertEqual(TestVectors.hexString(h.digest()), md, "split at \(cut)")
        }
    }

    func testEveryTwoWaySplitEqualsOneShot() {
        let expected = Keccak256.hash(message)
        for cut in 0...message.count {
            var h = Keccak256()
            h.update(message[..<cut])
            h.update(message[cut...])
            XCTAssertEqual(h.digest(), expected, "split at \(cut)")
        }
    }

    func testThreeWaySplitsAndByteAtATime() {
        let expected = Keccak256.hash(message)
        for first in stride(from: 0, through: message.count, by: 7) {
            for second in stride(from: first, through: message.count, by: 11) {
                var h = Keccak256()
                h.update(message[..<first])
                h.update(message[first..<second])
                h.update(message[second...])
                XCTAssertEqual(h.digest(), expected, "splits at \(first), \(second)")
            }
        }
        var h = Keccak256()
        for b in message { h.update([b]) }
        XCTAssertEqual(h.digest(), expected, "one byte at a time")
    }

    func testExportMidStreamThenContinue() throws {
        let expected = Keccak256.hash(message)
        for cut in 0...message.count {
            var h = Keccak256()
            h.update(message[..<cut])
            let exported = h.exportState()
            XCTAssertEqual(exported.count, Keccak256.exportedStateLength)
            var resumed = try Keccak256(exportedState: exported)
            XCTAssertEqual(resumed.digest(), h.digest(), "digest right after import at \(cut)")
            XCTAssertEqual(resumed.exportState(), exported, "re-export is bit-exact at \(cut)")
            resumed.update(message[cut...])
            XCTAssertEqual(resumed.digest(), expected, "resumed at \(cut)")
        }
    }

    /// The export holds no stale bytes of earlier blocks: equal states export equal bytes.
    func testExportIsCanonical() {
        var a = Keccak256()
        a.update(message[..<(Keccak256.rate + 5)])
        var b = Keccak256()
        b.update(message[..<(Keccak256.rate - 1)])   // fills the buffer with bytes a never buffers
        b.update(message[(Keccak256.rate - 1)..<(Keccak256.rate + 5)])
        XCTAssertEqual(a.exportState(), b.exportState())
    }

    func testBadExportedStatesAreRefused() {
        var h = Keccak256()
        h.update(message[..<10])
        let good = h.exportState()
        XCTAssertNoThrow(try Keccak256(exportedState: good))

        func refusal(_ bytes: [UInt8]) -> Keccak256.StateError? {
            do { _ = try Keccak256(exportedState: bytes); return nil } catch { return error }
        }
        XCTAssertEqual(refusal([]), .wrongLength(0))
        XCTAssertEqual(refusal(Array(good.dropLast())), .wrongLength(good.count - 1))
        XCTAssertEqual(refusal(good + [0]), .wrongLength(good.count + 1))

        var wrongFormat = good
        wrongFormat[0] = 2
        XCTAssertEqual(refusal(wrongFormat), .unknownFormat(2))

        var fullBuffer = good
        fullBuffer[1 + 200] = UInt8(Keccak256.rate)   // a full block is never left buffered
        XCTAssertEqual(refusal(fullBuffer), .badBufferCount(Keccak256.rate))
        fullBuffer[1 + 200] = 0xff
        XCTAssertEqual(refusal(fullBuffer), .badBufferCount(0xff))

        var staleTail = good
        staleTail[1 + 200 + 1 + 10] = 0x5a             // first byte past the 10 buffered ones
        XCTAssertEqual(refusal(staleTail), .nonZeroBufferTail)
    }

    func testStateErrorsDescribeThemselves() {
        XCTAssertTrue(Keccak256.StateError.wrongLength(3).description.contains("3"))
        XCTAssertTrue(Keccak256.StateError.unknownFormat(9).description.contains("9"))
    }
}
