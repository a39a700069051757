import Foundation
import XCTest
import Keccak
@testable import RLPxFrame

/// Seeded, bounded property tests of the codec: arbitrary frame sizes, arbitrary splits of the
/// byte stream, export and restore anywhere.
final class FrameCodecPropertyTests: XCTestCase {
    func testRoundTripRandomSizesAndSplitPoints() throws {
        var rng = SplitMix64(seed: 1)
        for round in 0..<20 {
            var pair = SessionPair(rng: &rng)
            let frames = (0..<(1 + rng.below(12))).map { _ in rng.bytes(randomFrameSize(&rng)) }
            var wire: [UInt8] = []
            for f in frames { wire += try pair.a.encode(f) }
            XCTAssertEqual(wire.count, frames.reduce(0) { $0 + FrameLayout.wireLength(frameDataSize: $1.count) })

            var received: [[UInt8]] = []
            var offset = 0
            while offset < wire.count {
                let chunk = min(wire.count - offset, 1 + rng.below(rng.below(2) == 0 ? 40 : 9000))
                // Every feed overload: slice, array, raw buffer, and the generic one (Data).
                let piece = wire[offset..<(offset + chunk)]
                switch rng.below(4) {
                case 0: pair.b.feed(piece)
                case 1: pair.b.feed(Array(piece))
                case 2: piece.withUnsafeBytes { pair.b.feed($0) }
                default: pair.b.feed(Data(piece))
                }
                offset += chunk
                received += try pair.b.decoder.drain()
            }
            XCTAssertEqual(received, frames, "round \(round)")
            XCTAssertEqual(pair.b.decoder.bufferedByteCount, 0)
            XCTAssertEqual(pair.b.decoder.bytesNeeded, FrameLayout.headerAndMACLength)
        }
    }

    func testBothDirectionsAreIndependentStreams() throws {
        var rng = SplitMix64(seed: 2)
        var pair = SessionPair(rng: &rng)
        for _ in 0..<30 {
            let toB = rng.bytes(randomFrameSize(&rng))
            let toA = rng.bytes(randomFrameSize(&rng))
            pair.b.feed(try pair.a.encode(toB))
            pair.a.feed(try pair.b.encode(toA))
            XCTAssertEqual(try pair.b.nextFrame(), toB)
            XCTAssertEqual(try pair.a.nextFrame(), toA)
        }
    }

    /// Cut the stream at a random point (inside a header, a body or a MAC; with or without a
    /// header already decoded), export both ends, restore them as fresh codecs and continue:
    /// the results equal an uninterrupted run, byte for byte, in both directions.
    func testExportMidStreamAndResumeGivesIdenticalOutput() throws {
        var rng = SplitMix64(seed: 3)
        for round in 0..<40 {
            let seed = rng.next()
            var setup = SplitMix64(seed: seed)
            let reference = SessionPair(rng: &setup)
            let frames = (0..<(2 + rng.below(6))).map { _ in rng.bytes(randomFrameSize(&rng)) }
            let later = rng.bytes(randomFrameSize(&rng))

            // Uninterrupted run.
            var plain = reference
            var wire: [UInt8] = []
            for f in frames { wire += try plain.a.encode(f) }
            plain.b.feed(wire)
            let plainFrames = try plain.b.decoder.drain()
            let plainLater = try plain.a.encode(later)

            // Interrupted: the sender exports after some frames, the receiver at a random byte.
            var sender = reference.a
            var sent: [UInt8] = []
            let exportAfter = rng.below(frames.count + 1)
            for (i, f) in frames.enumerated() {
                if i == exportAfter { sender = try FrameCodec(exportedState: sender.exportState()) }
                sent += try sender.encode(f)
            }
            XCTAssertEqual(sent, wire, "round \(round): encoder output changed across export")
            sender = try FrameCodec(exportedState: sender.exportState())
            XCTAssertEqual(try sender.encode(later), plainLater)

            var receiver = reference.b
            let cut = rng.below(wire.count + 1)
            receiver.feed(wire[..<cut])
            var got = try receiver.decoder.drain()   // may leave a decoded header pending
            let state = try receiver.exportState()
            var resumed = try FrameCodec(exportedState: state)
            XCTAssertEqual(resumed.decoder.bufferedByteCount, receiver.decoder.bufferedByteCount)
            XCTAssertEqual(resumed.decoder.bytesNeeded, receiver.decoder.bytesNeeded)
            resumed.feed(wire[cut...])
            got += try resumed.decoder.drain()
            XCTAssertEqual(got, plainFrames, "round \(round), cut \(cut) of \(wire.count)")
            XCTAssertEqual(try resumed.exportState(), try plain.b.exportState())
        }
    }

    func testExportWithHeaderPendingKeepsTheHeader() throws {
        var rng = SplitMix64(seed: 4)
        var pair = SessionPair(rng: &rng)
        let frame = rng.bytes(1000)
        let wire = try pair.a.encode(frame)
        pair.b.feed(wire[..<40])
        XCTAssertNil(try pair.b.nextFrame())
        XCTAssertEqual(pair.b.decoder.pendingFrameSize, 1000)
        XCTAssertEqual(pair.b.decoder.bufferedByteCount, 8)
        XCTAssertEqual(pair.b.decoder.bytesNeeded, FrameLayout.paddedLength(1000) + 16 - 8)
        var resumed = try FrameCodec(exportedState: pair.b.exportState())
        XCTAssertEqual(resumed.decoder.pendingFrameSize, 1000)
        resumed.feed(wire[40...])
        XCTAssertEqual(try resumed.nextFrame(), frame)
    }

    /// The keystream is one stream whatever the call pattern, including calls that end inside
    /// a block, and a stream restored at any byte position continues it exactly.
    func testCipherStreamChunkingAndRestoreAtAnyPosition() throws {
        var rng = SplitMix64(seed: 5)
        let key = AESKey(rng.bytes(32))
        let input = rng.bytes(700)
        var whole = FrameCipherStream(key: key)
        let expected = whole.apply(input)
        XCTAssertEqual(whole.position, 700)
        for _ in 0..<50 {
            var stream = FrameCipherStream(key: key)
            var out: [UInt8] = []
            var offset = 0
            while offset < input.count {
                let n = min(input.count - offset, rng.below(40))
                out += stream.apply(Array(input[offset..<(offset + n)]))
                offset += n
                if rng.below(3) == 0 { stream = FrameCipherStream(key: key, position: stream.position) }
            }
            XCTAssertEqual(out, expected)
        }
    }
}
