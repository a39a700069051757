/// Repeated timings of one operation and their median.
struct Samples {
    var values: [Double] = []

    mutating func add(_ v: Double) { values.append(v) }

    /// The same samples in another unit (seconds to microseconds, say).
    func scaled(by factor: Double) -> Samples {
        Samples(values: values.map { $0 * factor })
    }

    var median: Double {
        precondition(!values.isEmpty, "median of no samples")
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

enum Measure {
    /// How long one timed batch should last: long enough that clock resolution and loop
    /// overhead vanish, short enough that several runs fit in a benchmark of a few minutes.
    static let targetBatchSeconds = 0.25
    /// Upper bound on iterations of one batch, whatever the calibration says.
    static let maxIterations = 50_000_000

    /// Iterations of `body` that take about `targetBatchSeconds` on `clock` (doubling until a
    /// batch takes a tenth of the target, then scaling).
    static func calibrate(clock: () -> Double, _ body: () -> Void) -> Int {
        var n = 1
        while true {
            let start = clock()
            for _ in 0..<n { body() }
            let elapsed = clock() - start
            if elapsed >= targetBatchSeconds / 10 || n >= maxIterations {
                let scaled = Double(n) * targetBatchSeconds / max(elapsed, 1e-9)
                return max(1, min(maxIterations, Int(scaled)))
            }
            n *= 2
        }
    }

    /// Seconds per call of `body`, one sample per run, timed on `clock`.
    static func secondsPerCall(runs: Int, clock: () -> Double, _ body: () -> Void) -> Samples {
        let iterations = calibrate(clock: clock, body)
        var samples = Samples()
        for _ in 0..<runs {
            let start = clock()
            for _ in 0..<iterations { body() }
            samples.add((clock() - start) / Double(iterations))
        }
        return samples
    }
}
