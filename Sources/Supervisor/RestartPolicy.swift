/// When to restart a dead child, and when to give up (pure; the supervisor supplies the clock).
///
/// Backoff doubles from `initialDelay` to the role's `maximumDelay` and starts over once a child
/// has stayed up for `stableAfter`. The roles differ in what a death costs:
/// - a worker or the acceptor holds no peers, and the node serves nothing while it is down, so
///   it is respawned forever with a short cap (`serviceMaximumDelay`): a crash loop of either
///   is reported as degraded (STATUS, metrics, log) but never costs the live peers;
/// - the peer manager holds every peer, so when it crash-loops (more than `crashLoopLimit`
///   deaths within `crashLoopWindow`) the peers are lost anyway, and the service ends with a
///   clear error so systemd's own Restart= and rate limit take over instead of the supervisor
///   spinning.
public struct RestartPolicy: Sendable {
    /// A first restart after 100 ms (systemd's default RestartSec=100ms): quick enough that a
    /// killed worker is back before the acceptor's backlog fills, slow enough not to spin on an
    /// instant crash.
    public static let initialDelay: Duration = .milliseconds(100)
    /// The peer manager's cap: its restarts are expensive for the peers it dials back.
    public static let maximumDelay: Duration = .seconds(10)
    /// A worker's or the acceptor's cap: under repeated kills the node is back to accepting
    /// within a second of each (the kernel's backlog holds connections meanwhile).
    public static let serviceMaximumDelay: Duration = .seconds(1)
    public static let stableAfter: Duration = .seconds(30)
    /// A worker or acceptor that stayed up this long starts over at the initial delay: a crash
    /// loop of one should not leave a later, unrelated death waiting the cap.
    public static let serviceStableAfter: Duration = .seconds(10)
    /// As systemd's default StartLimitBurst=5 per StartLimitIntervalSec=10s, scaled for a
    /// child that costs far less than a service to restart.
    public static let crashLoopLimit = 10
    public static let crashLoopWindow: Duration = .seconds(60)
    /// Deaths within `crashLoopWindow` from which a child is reported as crash-looping
    /// (systemd's StartLimitBurst=5).
    public static let degradedAfter = 5

    private let cap: Duration
    private let stable: Duration
    private let givesUp: Bool
    private var delay: Duration = RestartPolicy.initialDelay
    private var deaths: [ContinuousClock.Instant] = []

    /// The peer manager's policy (gives up on a crash loop); `servicePolicy()` is the others'.
    public init() {
        self.init(cap: Self.maximumDelay, stable: Self.stableAfter, givesUp: true)
    }

    private init(cap: Duration, stable: Duration, givesUp: Bool) {
        self.cap = cap
        self.stable = stable
        self.givesUp = givesUp
    }

    /// A worker's or the acceptor's policy: short capped backoff, never gives up.
    public static func servicePolicy() -> RestartPolicy {
        RestartPolicy(cap: serviceMaximumDelay, stable: serviceStableAfter, givesUp: false)
    }

    public enum Decision: Equatable, Sendable {
        case restart(after: Duration)
        case giveUp(deaths: Int)
    }

    /// A child that started at `startedAt` died at `now`.
    public mutating func childDied(startedAt: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Decision {
        if now - startedAt >= stable { delay = Self.initialDelay }
        deaths.append(now)
        deaths.removeAll { now - $0 > Self.crashLoopWindow }
        if givesUp && deaths.count > Self.crashLoopLimit { return .giveUp(deaths: deaths.count) }
        let wait = delay
        delay = min(delay * 2, cap)
        return .restart(after: wait)
    }

    /// Deaths within the last `crashLoopWindow`.
    public func recentDeaths(now: ContinuousClock.Instant) -> Int {
        deaths.filter { now - $0 <= Self.crashLoopWindow }.count
    }

    /// Whether the child is crash-looping: the node is degraded while it is.
    public func isCrashLooping(now: ContinuousClock.Instant) -> Bool {
        recentDeaths(now: now) >= Self.degradedAfter
    }
}
