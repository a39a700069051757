import Glibc
import IPC
import XCTest
@testable import Acceptor

/// The acceptor's routing table: least-loaded worker first, pending counts per worker, trusted
/// connections counted apart, and a lost worker's slots freed with it.
final class WorkerRosterTests: XCTestCase {
    private var peerEnds: [CInt] = []

    override func tearDown() {
        peerEnds.forEach { _ = close($0) }
        peerEnds = []
    }

    /// A real channel (one end of a socketpair); the roster only keeps it.
    func channel() throws -> IPCChannel {
        let (mine, theirs) = try IPCChannel.makeSocketPair()
        peerEnds.append(theirs)
        return try IPCChannel(adopting: mine)
    }

    func testLeastLoadedWorkerGetsTheNextConnection() throws {
        var r = WorkerRoster()
        XCTAssertTrue(r.isEmpty)
        XCTAssertNil(r.leastLoaded())
        for i in 0..<3 { r.add(index: i, channel: try channel()) }
        XCTAssertEqual(r.count, 3)
        XCTAssertEqual(r.leastLoaded()?.index, 0, "ties go to the lowest index")
        r.assign(connectionID: 1, worker: 0, .init(ip: "127.0.0.1", trusted: false))
        XCTAssertEqual(r.leastLoaded()?.index, 1)
        r.assign(connectionID: 2, worker: 1, .init(ip: "127.0.0.1", trusted: false))
        r.assign(connectionID: 3, worker: 2, .init(ip: "127.0.0.1", trusted: false))
        r.assign(connectionID: 4, worker: 2, .init(ip: "127.0.0.1", trusted: false))
        XCTAssertEqual(r.leastLoaded()?.index, 0)
        XCTAssertEqual(r.release(connectionID: 3, worker: 2)?.ip, "127.0.0.1")
        XCTAssertEqual(r.release(connectionID: 4, worker: 2)?.ip, "127.0.0.1")
        XCTAssertEqual(r.leastLoaded()?.index, 2)
    }

    func testPendingCountsSeparateTrustedConnections() throws {
        var r = WorkerRoster()
        r.add(index: 0, channel: try channel())
        r.add(index: 1, channel: try channel())
        r.assign(connectionID: 1, worker: 0, .init(ip: "192.0.2.1", trusted: true))
        r.assign(connectionID: 2, worker: 0, .init(ip: "203.0.113.1", trusted: false))
        r.assign(connectionID: 3, worker: 1, .init(ip: "203.0.113.2", trusted: false))
        XCTAssertEqual(r.pendingTotal, 3)
        XCTAssertEqual(r.untrustedPending, 2)
        XCTAssertNil(r.release(connectionID: 3, worker: 0), "a connection is released by the worker that holds it")
        XCTAssertEqual(r.release(connectionID: 1, worker: 0)?.trusted, true)
        XCTAssertNil(r.release(connectionID: 1, worker: 0), "released once")
        XCTAssertEqual(r.pendingTotal, 2)
        XCTAssertEqual(r.untrustedPending, 2)
    }

    func testRemovedWorkerTakesItsPendingSlots() throws {
        var r = WorkerRoster()
        let c0 = try channel()
        r.add(index: 0, channel: c0)
        r.add(index: 1, channel: try channel())
        r.assign(connectionID: 1, worker: 0, .init(ip: "203.0.113.1", trusted: false))
        r.assign(connectionID: 2, worker: 0, .init(ip: "203.0.113.2", trusted: false))
        let lost = try XCTUnwrap(r.remove(index: 0))
        XCTAssertEqual(Set(lost.pending.values.map(\.ip)), ["203.0.113.1", "203.0.113.2"], "the sources, for the crash penalty")
        XCTAssertTrue(lost.channel === c0)
        XCTAssertEqual(r.pendingTotal, 0)
        XCTAssertNil(r.channel(index: 0))
        XCTAssertNil(r.remove(index: 0))
        XCTAssertEqual(r.leastLoaded()?.index, 1)
    }

    /// The per-network counts are kept, not recounted: they must follow every assign,
    /// release and lost worker, and never count trusted connections.
    func testPendingPerNetworkFollowsAssignReleaseAndRemove() throws {
        var r = WorkerRoster()
        r.add(index: 0, channel: try channel())
        r.add(index: 1, channel: try channel())
        let net: [UInt8] = [203, 0, 113], other: [UInt8] = [198, 51, 100]
        r.assign(connectionID: 1, worker: 0, .init(ip: "203.0.113.1", trusted: false, network: net))
        r.assign(connectionID: 2, worker: 1, .init(ip: "203.0.113.2", trusted: false, network: net))
        r.assign(connectionID: 3, worker: 1, .init(ip: "203.0.113.3", trusted: true, network: net))
        r.assign(connectionID: 4, worker: 0, .init(ip: "198.51.100.1", trusted: false, network: other))
        XCTAssertEqual(r.untrustedPending(inNetwork: net), 2)
        XCTAssertEqual(r.untrustedPending(inNetwork: other), 1)
        XCTAssertEqual(r.pendingTotal, 4)
        XCTAssertEqual(r.untrustedPending, 3)
        _ = r.release(connectionID: 2, worker: 1)
        XCTAssertEqual(r.untrustedPending(inNetwork: net), 1)
        _ = r.release(connectionID: 3, worker: 1)
        XCTAssertEqual(r.untrustedPending(inNetwork: net), 1, "a trusted connection was never counted")
        r.remove(index: 0)
        XCTAssertEqual(r.untrustedPending(inNetwork: net), 0)
        XCTAssertEqual(r.untrustedPending(inNetwork: other), 0)
        XCTAssertEqual(r.pendingTotal, 0)
        XCTAssertEqual(r.untrustedPending, 0)
        r.assign(connectionID: 5, worker: 0, .init(ip: "203.0.113.9", trusted: false, network: net))
        XCTAssertEqual(r.pendingTotal, 0, "a removed worker takes no connections")
    }
}
