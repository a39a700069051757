import FuzzTargets
import TestVectors
import XCTest

/// Every fuzz entry point over seeded random inputs and over mutations of real protocol bytes
/// (the published vectors), so the decoders meet hostile input in every test run, not only
/// under libFuzzer. A trap fails the run.
final class FuzzTargetsTests: XCTestCase {
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

    /// Real protocol bytes to mutate: handshake packets, a frame, RLP cases.
    func seeds() throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        let hs = try TestVectors.json("rlpx-eip8-handshake.json") as? [String: Any] ?? [:]
        func collectHex(_ v: Any) {
            if let s = v as? String, s.count >= 2, s.count % 2 == 0, s.allSatisfy(\.isHexDigit) { out.append(TestVectors.hex(s)) }
            if let d = v as? [String: Any] { d.values.forEach(collectHex) }
            if let a = v as? [Any] { a.forEach(collectHex) }
        }
        collectHex(hs)
        collectHex(try TestVectors.json("rlp-valid.json"))
        collectHex(try TestVectors.json("rlpx-frames.json"))
        return out.filter { !$0.isEmpty }
    }

    func testEveryTargetSurvivesRandomAndMutatedInput() throws {
        var rng = SeededGenerator(state: 0x5707_ade)
        let seeds = try seeds()
        XCTAssertGreaterThan(seeds.count, 10)
        for (name, target) in FuzzTargets.all.sorted(by: { $0.key < $1.key }) {
            for i in 0..<300 {
                var input: [UInt8]
                if i % 2 == 0 {
                    input = (0..<Int.random(in: 0...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                } else {
                    input = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
                    for _ in 0..<Int.random(in: 1...8, using: &rng) where !input.isEmpty {
                        input[Int.random(in: 0..<input.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    }
                    if Bool.random(using: &rng) { input = Array(input.prefix(Int.random(in: 0...input.count, using: &rng))) }
                }
                target(input)
            }
            _ = name
        }
    }

    /// The socks5 target on SOCKS5-shaped input (random bytes rarely start with 05): greetings and
    /// requests of every address type, mutated and cut, with payload after them.
    func testSOCKS5TargetOnNearValidInput() {
        var rng = SeededGenerator(state: 0x50c5)
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        for _ in 0..<3000 {
            let methods: [UInt8] = [[0x00], [0x00, 0x01], [0x02], [0x01, 0x02, 0x00], []].randomElement(using: &rng)!
            var input: [UInt8] = [0x05, UInt8(methods.count)] + methods
            let atyp = [UInt8(1), 3, 4, UInt8.random(in: 0...255, using: &rng)].randomElement(using: &rng)!
            input += [0x05, UInt8.random(in: 1...3, using: &rng), 0x00, atyp]
            switch atyp {
            case 1: input += bytes(4)
            case 4: input += bytes(16)
            default:
                let name = (0..<Int.random(in: 0...255, using: &rng)).map { _ in UInt8.random(in: 0x21...0x7e, using: &rng) }
                input += [UInt8(name.count)] + name
            }
            input += bytes(2) + bytes(Int.random(in: 0...40, using: &rng))
            for _ in 0..<Int.random(in: 0...2, using: &rng) {
                input[Int.random(in: 0..<input.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { input = Array(input.prefix(Int.random(in: 0...input.count, using: &rng))) }
            FuzzTargets.socks5(input)
        }
    }
}
