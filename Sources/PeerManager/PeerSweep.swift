import NIOCore

/// A link loop's one pass over its live peers' timeouts and pings (no timer per peer), cut
/// into steps of at most `peersPerStep` peers spread evenly over the pass (issue 10).
///
/// A peer's Ping falls due one ping interval after its last, so with n peers about
/// n × pass / pingInterval Pings fall due per pass; done in one task at 10,000 peers that was
/// ~670 Pings (each a frame encrypted, MAC'd and written) in one go, milliseconds during which
/// every other peer waited: the ping p99 of the scale benchmark went above 2 ms. Steps bound
/// that wait; the work per pass stays the same. A few hundred peers still take one step per
/// pass, since every step is a wake-up of the loop (tens of µs on a shared VM, measured as
/// idle CPU: 20 steps a second doubled it at 100 peers).
struct PeerSweep<Peer> {
    /// Peers per step: at a 15 s ping interval and a 1 s pass, ~33 Pings, well under a
    /// millisecond at the ~20 µs each costs here (perf profile of the scale benchmark).
    static var peersPerStep: Int { 500 }
    /// Steps per pass at most (10,000 peers in 500s), so the wake-ups stay bounded.
    static var maxSteps: Int { 20 }

    private var pass: [Peer] = []
    private var next = 0
    private var perStep = 0
    private var steps = 1

    /// Ticks the next slice of the current pass (starting a new pass with `listPeers` when the
    /// last one is done) and returns when the next step is due, for passes of `period`. The run
    /// loop's peers are PeerChannelHandlers; one closed since its pass began ignores its tick.
    mutating func step(period: TimeAmount, listPeers: () -> [Peer], tick: (Peer) -> Void) -> TimeAmount {
        if next >= pass.count {
            pass = listPeers()
            next = 0
            steps = min(Self.maxSteps, max(1, (pass.count + Self.peersPerStep - 1) / Self.peersPerStep))
            perStep = (pass.count + steps - 1) / steps
        }
        let end = min(pass.count, next + perStep)
        for i in next..<end { tick(pass[i]) }
        next = end
        // Between passes, hold no closed peer's handler.
        if next >= pass.count { pass = [] }
        return .nanoseconds(max(1, period.nanoseconds / Int64(steps)))
    }
}
