/// The periodic info line that stands for the per-connection lines (which are debug): a flood
/// of handshakes must not write a line each, past journald's rate limit, yet an operator at
/// info still sees what the node met. Built from the heartbeat counters' advance over the
/// period and the peer events the supervisor saw.
struct LogSummary {
    /// How often the summary is due; STOCKADE_LOG_SUMMARY_MS overrides it (tests).
    static let defaultInterval: Duration = .seconds(60)

    var added = 0
    /// Peers dropped, by "reason by side".
    var dropped: [String: Int] = [:]

    mutating func peerAdded() { added += 1 }
    mutating func peerDropped(reason: String, by: String) { dropped["\(reason) (\(by))", default: 0] += 1 }

    /// The line for one period, nil when nothing happened (an idle node stays quiet).
    /// `counters` is NodeMetrics.takePeriod()'s "role/counter" advance.
    func line(counters: [String: UInt64], seconds: Int) -> String? {
        let accepted = counters["acceptor/accepted_total"] ?? 0
        let refused = counters["acceptor/refused_total"] ?? 0
        let ok = counters["worker/handshakes_ok_total"] ?? 0
        let failed = counters.compactMap { key, value -> (String, UInt64)? in
            let prefix = "worker/handshakes_failed_", suffix = "_total"
            guard key.hasPrefix(prefix), key.hasSuffix(suffix), key != "worker/handshakes_failed_total" else { return nil }
            return (String(key.dropFirst(prefix.count).dropLast(suffix.count)), value)
        }
        let dialsFailed = counters["peer-manager/dials_failed_total"] ?? 0
        let droppedTotal = dropped.values.reduce(0, +)
        guard accepted + refused + ok + dialsFailed > 0 || !failed.isEmpty || added > 0 || droppedTotal > 0 else { return nil }
        func byReason(_ items: [(String, Int)]) -> String {
            items.isEmpty ? "" : " (" + items.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")"
        }
        let failedTotal = failed.reduce(0) { $0 + Int($1.1) }
        return "last \(seconds) s: inbound connections \(accepted) accepted, \(refused) refused; "
            + "handshakes \(ok) ok, \(failedTotal) failed\(byReason(failed.map { ($0.0, Int($0.1)) })); "
            + "dials failed \(dialsFailed); peers \(added) added, \(droppedTotal) dropped\(byReason(dropped.map { ($0.key, $0.value) }))"
    }
}
