/// Per-source penalties, after OpenSSH's PerSourcePenalties: a source address whose connections
/// keep failing handshakes with bad bytes, stalling them, or taking workers down with them
/// accumulates penalty time; while its penalty is at or above `threshold` its connections are
/// refused before they cost a handshake. Penalty drains one second per second, so an address
/// that stops misbehaving comes back by itself. Pure; the caller gives the time.
import NodeConfig

struct SourcePenalties {
    enum Offence {
        /// Bytes that are not the protocol (OpenSSH's authfail: 5 s).
        case protocolViolation
        /// The handshake deadline passed (OpenSSH's noauth: 1 s).
        case timeout
        /// In flight on two worker crashes within `crashWindow` (OpenSSH's crash: 90 s).
        case crash

        var seconds: Double {
            switch self {
            case .protocolViolation: return 5
            case .timeout: return 1
            case .crash: return 90
            }
        }
    }

    /// OpenSSH's PerSourcePenalties min: refuse once this much penalty has accumulated.
    static let threshold: Double = 15
    /// OpenSSH's PerSourcePenalties max.
    static let maximum: Double = 600
    /// At most this many sources are tracked; the least penalised are forgotten first.
    static let capacity = 16_384

    private struct Entry {
        var penalty: Double
        var at: ContinuousClock.Instant
    }

    private var entries: [String: Entry] = [:]
    let exempt: [CIDR]

    init(exempt: [CIDR]) { self.exempt = exempt }

    mutating func record(_ offence: Offence, source ip: String, now: ContinuousClock.Instant) {
        guard !exempt.contains(where: { $0.contains(ip: ip) }) else { return }
        let current = penalty(ip, now: now)
        entries[ip] = Entry(penalty: min(Self.maximum, current + offence.seconds), at: now)
        if entries.count > Self.capacity { trim(now: now) }
    }

    /// Seconds of refusal left for `ip`, or nil when it may connect.
    func refusal(_ ip: String, now: ContinuousClock.Instant) -> Double? {
        let p = penalty(ip, now: now)
        return p >= Self.threshold ? p - Self.threshold + 1 : nil
    }

    private func penalty(_ ip: String, now: ContinuousClock.Instant) -> Double {
        guard let e = entries[ip] else { return 0 }
        let elapsed = now - e.at
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return max(0, e.penalty - seconds)
    }

    private mutating func trim(now: ContinuousClock.Instant) {
        entries = entries.filter { penalty($0.key, now: now) > 0 }
        if entries.count > Self.capacity {
            let keep = entries.sorted { $0.value.penalty > $1.value.penalty }.prefix(Self.capacity / 2)
            entries = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}
