import Keccak

/// Section a: Keccak-256 throughput, one whole hash (init, update, digest) per call, as
/// `openssl speed -evp sha3-256 -bytes N` times one EVP digest of N bytes per call.
enum KeccakBench {
    /// 1 KiB and 16 KiB are `openssl speed`'s own block sizes; 1 MiB stands for bulk data.
    static let sizes = [1024, 16 * 1024, 1024 * 1024]

    static func run(runs: Int, clock: Clock.Kind) -> [(bytes: Int, megabytesPerSecond: Samples)] {
        sizes.map { size in
            let input = [UInt8]((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
            let perCall = Measure.secondsPerCall(runs: runs, clock: clock.seconds) {
                blackHole(Keccak256.hash(input))
            }
            var mbps = Samples()
            for s in perCall.values { mbps.add(Double(size) / s / 1e6) }
            return (size, mbps)
        }
    }
}
