/// go-ethereum's inbound throttle (server.go checkInboundConn): a non-LAN address that connected
/// within the last `window` (inboundThrottleTime, 30 s) is refused. Pure; the caller gives the
/// time. Entries expire with the window, and the table is bounded so a flood of distinct
/// addresses cannot grow it without limit.
struct InboundThrottle {
    /// go-ethereum's inboundThrottleTime.
    static let defaultWindow: Duration = .seconds(30)
    /// At most this many remembered addresses; past it the oldest are forgotten first.
    static let capacity = 16_384

    let window: Duration
    private var lastSeen: [String: ContinuousClock.Instant] = [:]

    init(window: Duration) { self.window = window }

    /// True when `ip` connected within the window; records this attempt either way.
    mutating func isThrottled(_ ip: String, now: ContinuousClock.Instant) -> Bool {
        guard window > .zero else { return false }
        let throttled = lastSeen[ip].map { now - $0 < window } ?? false
        lastSeen[ip] = now
        if lastSeen.count > Self.capacity { expire(now: now) }
        return throttled
    }

    mutating func expire(now: ContinuousClock.Instant) {
        lastSeen = lastSeen.filter { now - $0.value < window }
        if lastSeen.count > Self.capacity {
            let keep = lastSeen.sorted { $0.value > $1.value }.prefix(Self.capacity / 2)
            lastSeen = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}
