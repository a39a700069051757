import Keccak
@testable import RLPxFrame

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

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// The two ends of one session with random secrets: `a` sends what `b` receives and back.
struct SessionPair {
    var a: FrameCodec
    var b: FrameCodec

    init(rng: inout SplitMix64, maximumFrameSize: Int = FrameLayout.maximumFrameSize) {
        let aes = rng.bytes(32)
        let mac = rng.bytes(32)
        var toB = Keccak256()
        toB.update(rng.bytes(rng.below(300)))
        var toA = Keccak256()
        toA.update(rng.bytes(rng.below(300)))
        a = FrameCodec(secrets: SessionSecrets(aesSecret: aes, macSecret: mac, egressMAC: toB, ingressMAC: toA),
                       maximumIncomingFrameSize: maximumFrameSize)
        b = FrameCodec(secrets: SessionSecrets(aesSecret: aes, macSecret: mac, egressMAC: toA, ingressMAC: toB),
                       maximumIncomingFrameSize: maximumFrameSize)
    }
}

extension FrameDecoder {
    /// Every frame currently complete.
    mutating func drain() throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        while let frame = try nextFrame() { frames.append(frame) }
        return frames
    }
}

/// Random frame sizes: mostly small, some around block boundaries, a few large.
func randomFrameSize(_ rng: inout SplitMix64) -> Int {
    switch rng.below(10) {
    case 0: return rng.below(3)
    case 1: return 16 * (1 + rng.below(8)) + rng.below(3) - 1
    case 2: return 20_000 + rng.below(50_000)
    default: return rng.below(3000)
    }
}
