/// When to restart a dead child, and when to give up (pure; the supervisor supplies the clock).
/// Backoff doubles from `initialDelay` to `maximumDelay` and starts over once a child has stayed
/// up for `stableAfter`; more than `crashLoopLimit` deaths of one child within `crashLoopWindow`
/// ends the service with a clear error, so systemd's own Restart= and rate limit take over
/// instead of the supervisor spinning.
public struct RestartPolicy: Sendable {
    /// A first restart after 100 ms: quick enough that a killed worker is back before the
    /// acceptor's backlog fills, slow enough not to spin on an instant crash.
    public static let initialDelay: Duration = .milliseconds(100)
    public static let maximumDelay: Duration = .seconds(10)
    public static let stableAfter: Duration = .seconds(30)
    /// As systemd's default StartLimitBurst=5 per StartLimitIntervalSec=10s, scaled for a
    /// child that costs far less than a service to restart.
    public static let crashLoopLimit = 10
    public static let crashLoopWindow: Duration = .seconds(60)

    private var delay: Duration = RestartPolicy.initialDelay
    private var deaths: [ContinuousClock.Instant] = []

    public init() {}

    public enum Decision: Equatable, Sendable {
        case restart(after: Duration)
        case giveUp(deaths: Int)
    }

    /// A child that started at `startedAt` died at `now`.
    public mutating func childDied(startedAt: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Decision {
        if now - startedAt >= Self.stableAfter { delay = Self.initialDelay }
        deaths.append(now)
        deaths.removeAll { now - $0 > Self.crashLoopWindow }
        if deaths.count > Self.crashLoopLimit { return .giveUp(deaths: deaths.count) }
        let wait = delay
        delay = min(delay * 2, Self.maximumDelay)
        return .restart(after: wait)
    }
}
