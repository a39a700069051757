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
        /// The streams: sessions open now, window stalls so far, and the router's counters.
        var sessionsOpen: UInt64 = 0
        var windowStalls: UInt64 = 0
        var streams = StreamCounters()
    }

    private let box = NIOLockedValueBox(Snapshot())

    func update(_ body: (inout Snapshot) -> Void) { box.withLockedValue(body) }
    var snapshot: Snapshot { box.withLockedValue { $0 } }
}
