import ChildRuntime
import Control
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@preconcurrency import Streams

/// One event loop that live links run on: each link's channel, `PeerChannelHandler` (frame
/// crypto, pings, timeouts), mux and the local sockets of its sessions. The loop has its own
/// `StreamRouter` for those links (exit rules, budget share, counters), so a link never
/// touches another loop's state; the run loop reaches it only with `execute`.
///
/// Loop 0 is the run loop itself (the peer set, dials, events, control, entry listeners), so
/// with `link_threads = 1` every link runs there, as before links were spread.
///
/// Sendable by confinement, not by locks: each stored property below is read and written only
/// on the loop its group names, and other threads reach it with `run` (a message).
final class LinkLoop: @unchecked Sendable {
    let index: Int
    let eventLoop: EventLoop
    let router: StreamRouter

    // Confined to `eventLoop`.
    /// The live links here by node ID, for the timeout sweep, disconnects and listings.
    var links: [[UInt8]: PeerChannelHandler] = [:]
    /// The trusted node IDs as the run loop last sent them (the exit rules' `trusted` condition).
    var trusted: Set<[UInt8]> = []
    private var sweep: Scheduled<Void>?
    private var sweepPeriod: TimeAmount?
    private var sweepState = PeerSweep<PeerChannelHandler>()

    // Confined to the run loop.
    /// Links placed here and not yet closed: what the choice of loop for the next one counts.
    var linkCount = 0

    init(index: Int, eventLoop: EventLoop, router: StreamRouter, counters: PeerCounters) {
        self.index = index
        self.eventLoop = eventLoop
        self.router = router
        // The router's session totals walk every mux here: once a second is enough for the
        // heartbeat that reads them (as the run loop's tick did with one loop).
        eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in
            guard let self else { return }
            let streams = LinkLoopStreams(counters: router.counters, sessionsOpen: UInt64(router.openSessions),
                                          windowStalls: router.windowStalls)
            counters.update { $0.loopStreams[self.index] = streams }
        }
    }

    /// Runs `body` on this loop: at once when called there (loop 0 from the run loop, so one
    /// loop behaves as before), else as a task.
    func run(_ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }

    /// Checks every link's timeouts and pings once each `period` (`PeerRunLoop.sweepInterval`):
    /// one pass per loop, cut into `PeerSweep`'s steps, no timer per peer.
    func setSweep(_ period: TimeAmount) {
        run { [self] in
            guard period != sweepPeriod else { return }
            sweepPeriod = period
            sweep?.cancel()
            scheduleSweepStep(in: period)
        }
    }

    private func scheduleSweepStep(in delay: TimeAmount) {
        sweep = eventLoop.scheduleTask(in: delay) { [weak self] in
            guard let self, let period = sweepPeriod else { return }
            // The pass holds a list of the links: a tick may drop one (read timeout) meanwhile.
            scheduleSweepStep(in: sweepState.step(period: period, listPeers: { Array(self.links.values) }, tick: { $0.tick() }))
        }
    }

    /// Each link's byte counts, read on this loop, for `stockade peers`.
    func trafficSnapshot() -> EventLoopFuture<[[UInt8]: (bytesIn: UInt64, bytesOut: UInt64)]> {
        let take: @Sendable () -> [[UInt8]: (bytesIn: UInt64, bytesOut: UInt64)] = { [self] in
            links.mapValues { (bytesIn: $0.bytesIn, bytesOut: $0.bytesOut) }
        }
        return eventLoop.inEventLoop ? eventLoop.makeSucceededFuture(take()) : eventLoop.submit(take)
    }

    /// This loop's sessions, for `stockade sessions`.
    func sessions() -> EventLoopFuture<[SessionInfo]> {
        eventLoop.inEventLoop ? eventLoop.makeSucceededFuture(router.sessions()) : eventLoop.submit { [self] in router.sessions() }
    }
}

/// A link loop's stream numbers as it last published them.
struct LinkLoopStreams: Sendable {
    var counters = StreamCounters()
    var sessionsOpen: UInt64 = 0
    var windowStalls: UInt64 = 0
}

/// The link loops: the run loop (index 0) and `link_threads - 1` more threads of one
/// `MultiThreadedEventLoopGroup`, made at the first configuration (the number is a config
/// key; a reload does not change it). Which loop a new link goes to is decided here, on the
/// run loop, with the rest of the peer set's decisions.
final class LinkLoops {
    private(set) var all: [LinkLoop]
    /// The extra threads, in a box the IPC thread shuts them down from after the run loop ends.
    private let group: NIOLockedValueBox<MultiThreadedEventLoopGroup?>
    private var started = false

    init(main: LinkLoop, group: NIOLockedValueBox<MultiThreadedEventLoopGroup?>) {
        all = [main]
        self.group = group
    }

    var main: LinkLoop { all[0] }

    /// Starts `count - 1` more loops, each with the router `makeRouter` gives it. Once.
    func start(count: Int, makeRouter: (EventLoop, Int, @escaping () -> LinkLoop?) -> StreamRouter, counters: PeerCounters) {
        guard !started else { return }
        started = true
        guard count > 1 else { return }
        let extra = MultiThreadedEventLoopGroup(numberOfThreads: count - 1)
        group.withLockedValue { $0 = extra }
        var index = 1
        for loop in extra.makeIterator() {
            weak var made: LinkLoop?
            let router = makeRouter(loop, index, { made })
            let link = LinkLoop(index: index, eventLoop: loop, router: router, counters: counters)
            made = link
            all.append(link)
            index += 1
        }
    }

    /// The loop for a new link: the one with the fewest links, the lowest index on a tie (so
    /// the run loop takes the first). Counts the link there until `released`.
    func place() -> LinkLoop {
        let chosen = all.min { $0.linkCount < $1.linkCount || ($0.linkCount == $1.linkCount && $0.index < $1.index) }!
        chosen.linkCount += 1
        return chosen
    }

    func released(_ loop: LinkLoop) { loop.linkCount -= 1 }

    /// The trusted set, sent to every loop (each loop's exit rules read their own copy).
    func setTrusted(_ ids: Set<[UInt8]>) {
        for loop in all { loop.run { loop.trusted = ids } }
    }

    func setSweep(_ period: TimeAmount) { all.forEach { $0.setSweep(period) } }

    /// Stops the extra threads of `group` (after every link is closed). From any thread but a
    /// loop's own.
    static func shutdown(_ group: NIOLockedValueBox<MultiThreadedEventLoopGroup?>) {
        let extra = group.withLockedValue { g in defer { g = nil }; return g }
        try? extra?.syncShutdownGracefully()
    }
}
