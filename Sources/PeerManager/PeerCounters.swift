import NIOConcurrencyHelpers
import Streams

/// The peer manager's numbers, written by the NIO run loop and read by the heartbeat on the
/// IPC thread. The run loop also stamps `loopAlive`, so a heartbeat proves the run loop turns,
/// not just the IPC thread.
final class PeerCounters: Sendable {
    struct Snapshot: Sendable {
        var peersInbound: UInt64 = 0
        var peersOutbound: UInt64 = 0
        var added: UInt64 = 0
        var dropped: UInt64 = 0
        var checksRejected: UInt64 = 0
        var dialsStarted: UInt64 = 0
        var dialsFailed: UInt64 = 0
        var handoffsRefused: UInt64 = 0
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64 = 0
        var loopAlive: ContinuousClock.Instant = .now
        var runLoopLagMicroseconds: UInt64 = 0
        /// The static and trusted lists' sizes, run-time edits included.
        var staticNodes: UInt64 = 0
        var trustedNodes: UInt64 = 0
        /// The streams of each link loop (LinkLoops.swift) as it last published them, by index.
        var loopStreams: [Int: LinkLoopStreams] = [:]
        /// Over every link loop: sessions open now, window stalls so far, the routers' counters.
        var sessionsOpen: UInt64 { loopStreams.values.reduce(0) { $0 + $1.sessionsOpen } }
        var windowStalls: UInt64 { loopStreams.values.reduce(0) { $0 + $1.windowStalls } }
        var streams: StreamCounters { loopStreams.values.reduce(into: StreamCounters()) { $0.add($1.counters) } }
    }

    private let box = NIOLockedValueBox(Snapshot())

    func update(_ body: (inout Snapshot) -> Void) { box.withLockedValue(body) }
    var snapshot: Snapshot { box.withLockedValue { $0 } }
}
