/// Prints results either as a human table (medians) or as one machine line per sample.
final class Report {
    let machine: Bool

    init(machine: Bool) { self.machine = machine }

    func section(_ title: String) {
        if !machine { print("\n\(title)") }
    }

    /// One measured quantity: its samples, reported as the median (table) or each sample (machine).
    func samples(_ name: String, _ keys: [String: String], unit: String, _ s: Samples, label: String) {
        if machine {
            let k = keys.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            for v in s.values { print("\(name) \(k) \(Report.unitKey(unit))=\(Report.format(v))") }
        } else {
            let lo = s.values.min() ?? 0, hi = s.values.max() ?? 0
            print("  \(Report.pad(label, 52)) \(Report.pad(Report.format(s.median), 12, right: true)) \(unit)   (median of \(s.values.count), range \(Report.format(lo))-\(Report.format(hi)))")
        }
    }

    /// A line that is not a measurement: a derived ratio, or why a section cannot run yet.
    func note(_ text: String) {
        if machine { print("# \(text)") } else { print("  \(text)") }
    }

    static func unitKey(_ unit: String) -> String {
        switch unit {
        case "MB/s": return "MBps"
        case "µs/op": return "us"
        default: return unit.filter { $0.isLetter || $0.isNumber }
        }
    }

    static func format(_ v: Double) -> String {
        let scaled = (v * 100).rounded() / 100
        var s = "\(scaled)"
        if let dot = s.firstIndex(of: "."), s.distance(from: dot, to: s.endIndex) == 2 { s += "0" }
        return s
    }

    static func size(_ bytes: Int) -> String {
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) B"
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let n = max(0, width - s.count)
        return right ? String(repeating: " ", count: n) + s : s + String(repeating: " ", count: n)
    }
}
