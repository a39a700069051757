import NIOCore
import XCTest
@testable import PeerManager

/// PeerSweep: every peer ticked once per pass, in steps of at most `peersPerStep` peers spread
/// over the pass, and few peers in one step (each step is a wake-up of the run loop).
final class PeerSweepTests: XCTestCase {
    final class Peer {
        var ticks = 0
    }

    /// Runs steps until one pass of `peers` is done; returns the delays returned by each step.
    private func onePass(_ sweep: inout PeerSweep<Peer>, _ peers: [Peer], period: TimeAmount = .seconds(1)) -> [TimeAmount] {
        var delays: [TimeAmount] = []
        var listed = 0
        // Bounded: a pass never takes more than maxSteps steps.
        for _ in 0..<PeerSweep<Peer>.maxSteps {
            delays.append(sweep.step(period: period, listPeers: { listed += 1; return peers }, tick: { $0.ticks += 1 }))
            if peers.allSatisfy({ $0.ticks > 0 }) { break }
        }
        XCTAssertEqual(listed, 1, "one listing per pass")
        return delays
    }

    func testFewPeersTakeOneStepPerPass() {
        var sweep = PeerSweep<Peer>()
        let peers = (0..<100).map { _ in Peer() }
        let delays = onePass(&sweep, peers)
        XCTAssertEqual(delays, [.seconds(1)])
        XCTAssertEqual(peers.map(\.ticks), Array(repeating: 1, count: 100))
    }

    func testManyPeersAreSpreadOverStepsOfBoundedSize() {
        var sweep = PeerSweep<Peer>()
        let peers = (0..<1_200).map { _ in Peer() }
        var ticked: [Int] = []
        var delays: [TimeAmount] = []
        for _ in 0..<3 {
            let before = peers.reduce(0) { $0 + $1.ticks }
            delays.append(sweep.step(period: .seconds(1), listPeers: { peers }, tick: { $0.ticks += 1 }))
            ticked.append(peers.reduce(0) { $0 + $1.ticks } - before)
        }
        // 1,200 peers in 500s: 3 steps of 400, a third of the pass apart.
        XCTAssertEqual(ticked, [400, 400, 400])
        XCTAssertEqual(delays, Array(repeating: .nanoseconds(333_333_333), count: 3))
        XCTAssertEqual(peers.map(\.ticks), Array(repeating: 1, count: 1_200))
    }

    func testStepsAreCappedAndTheNextPassListsThePeersAgain() {
        var sweep = PeerSweep<Peer>()
        let many = (0..<20_000).map { _ in Peer() }
        let delays = onePass(&sweep, many)
        XCTAssertEqual(delays.count, PeerSweep<Peer>.maxSteps, "20,000 peers: the step count is capped")
        XCTAssertEqual(many.map(\.ticks), Array(repeating: 1, count: 20_000))
        // The peer set changed meanwhile: the next pass ticks the new list, once each.
        let fewer = Array(many.prefix(10)) + [Peer()]
        _ = onePass(&sweep, fewer)
        XCTAssertEqual(fewer.map(\.ticks), Array(repeating: 2, count: 10) + [1])
        XCTAssertEqual(many[10].ticks, 1, "a peer gone from the set is not ticked again")
    }

    func testNoPeersWaitAWholePass() {
        var sweep = PeerSweep<Peer>()
        XCTAssertEqual(sweep.step(period: .milliseconds(100), listPeers: { [] }, tick: { _ in XCTFail("no peer to tick") }),
                       .milliseconds(100))
    }
}
