/// Order statistics of a sample, by the nearest-rank method (the value at rank ⌈p·n⌉ of the
/// sorted sample): every reported figure is a value that was actually observed.
struct Percentiles: Sendable {
    let sorted: [Double]

    init(_ values: [Double]) { sorted = values.sorted() }

    /// The p-th percentile, p in [0, 100]; nil for an empty sample.
    func value(_ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }
}
