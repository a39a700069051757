import NodeConfig

/// The acceptor's checks on a source address before its connection costs a handshake:
/// go-ethereum's checkInboundConn (NetRestrict, the inbound throttle for non-LAN addresses),
/// per-source penalties, and the pending slots kept for trusted nodes' addresses. Pure state;
/// the acceptor gives the time.
struct InboundAdmission {
    /// A source in flight on two worker deaths within this window is taken to crash workers.
    static let crashWindow: Duration = .seconds(600)

    private(set) var netrestrict: [CIDR]
    private(set) var throttleLAN: Bool
    private(set) var penaltiesEnabled: Bool
    private(set) var trustedAddresses: Set<String>
    private(set) var trustedPendingSlots: Int
    private(set) var maxPendingPerNetwork: Int
    private var throttle: InboundThrottle
    private(set) var penalties: SourcePenalties
    private var crashSightings: [String: [ContinuousClock.Instant]] = [:]

    init(settings: AcceptorSettings? = nil) {
        netrestrict = (settings?.netrestrict ?? []).compactMap(CIDR.init(parsing:))
        throttleLAN = settings?.throttleLAN ?? false
        penaltiesEnabled = settings?.penalties ?? false
        trustedAddresses = Set(settings?.trustedAddresses ?? [])
        trustedPendingSlots = settings?.trustedPendingSlots ?? 0
        maxPendingPerNetwork = settings?.maxPendingPerNetwork ?? 0
        throttle = InboundThrottle(window: .milliseconds(settings?.inboundThrottleMs ?? 0))
        penalties = SourcePenalties(exempt: (settings?.penaltyExempt ?? []).compactMap(CIDR.init(parsing:)))
    }

    /// New rules (a reload, a node trusted at run time) without forgetting what was learned
    /// about sources: recent attempts and penalties carry over unless their own rules changed.
    mutating func apply(_ settings: AcceptorSettings) {
        netrestrict = settings.netrestrict.compactMap(CIDR.init(parsing:))
        throttleLAN = settings.throttleLAN
        penaltiesEnabled = settings.penalties
        trustedAddresses = Set(settings.trustedAddresses)
        trustedPendingSlots = settings.trustedPendingSlots
        maxPendingPerNetwork = settings.maxPendingPerNetwork
        if throttle.window != .milliseconds(settings.inboundThrottleMs) {
            throttle = InboundThrottle(window: .milliseconds(settings.inboundThrottleMs))
        }
        let exempt = settings.penaltyExempt.compactMap(CIDR.init(parsing:))
        if exempt != penalties.exempt { penalties = SourcePenalties(exempt: exempt) }
    }

    func isTrusted(_ ip: String) -> Bool { trustedAddresses.contains(ip) }

    /// Why `ip` may not connect now, or nil. `untrustedPending` is how many untrusted
    /// connections are in handshakes, `pendingInNetwork` how many of them come from `ip`'s /24
    /// or /64; `maxPending` the acceptor's limit; `roll` a uniform random number in [0, 1)
    /// for the random early drop, drawn only when a drop is possible (a getrandom call each).
    mutating func refusal(for ip: String, untrustedPending: Int, pendingInNetwork: Int = 0, maxPending: Int,
                          roll: @autoclosure () -> Double = 1, now: ContinuousClock.Instant) -> String? {
        if !netrestrict.isEmpty && !netrestrict.contains(where: { $0.contains(ip: ip) }) {
            return "not in netrestrict"
        }
        let trusted = isTrusted(ip)
        if !trusted && untrustedPending >= maxPending - trustedPendingSlots {
            return "remaining handshake slots are kept for trusted nodes"
        }
        // LAN sources are spared the startup limits and the throttle (a node's own tools, its
        // operator's tests), as go-ethereum spares them its throttle; trusted nodes too.
        let limited = !trusted && (throttleLAN || !LANAddresses.contains(ip))
        if limited {
            if maxPendingPerNetwork > 0 && pendingInNetwork >= maxPendingPerNetwork {
                return "\(pendingInNetwork) handshakes already in flight from its network (max_pending_per_network)"
            }
            let chance = StartupLimits.dropChance(pending: untrustedPending, maxPending: maxPending)
            if chance > 0 && roll() < chance {
                return "random early drop with \(untrustedPending) of \(maxPending) handshake slots in use (MaxStartups)"
            }
        }
        if penaltiesEnabled, let seconds = penalties.refusal(ip, now: now) {
            return "penalised for \(Int(seconds.rounded(.up))) s more (earlier connections misbehaved)"
        }
        if limited && throttle.isThrottled(ip, now: now) {
            return "too many attempts (connected within the inbound throttle window)"
        }
        return nil
    }

    /// A handshake from `ip` failed in a way that counts against it.
    mutating func failed(_ ip: String, offence: SourcePenalties.Offence, now: ContinuousClock.Instant) {
        guard penaltiesEnabled else { return }
        penalties.record(offence, source: ip, now: now)
    }

    /// `ip` had a handshake in flight on a worker that died. Twice within `crashWindow` is a
    /// crash offence: one death may be an operator's kill or an unrelated bug, a repeat points
    /// at the source.
    mutating func inFlightOnWorkerDeath(_ ip: String, now: ContinuousClock.Instant) {
        guard penaltiesEnabled else { return }
        var seen = (crashSightings[ip] ?? []).filter { now - $0 < Self.crashWindow }
        seen.append(now)
        crashSightings[ip] = seen
        if seen.count >= 2 {
            penalties.record(.crash, source: ip, now: now)
            crashSightings[ip] = nil
        }
        if crashSightings.count > InboundThrottle.capacity { crashSightings.removeAll() }
    }
}
