import XCTest
@testable import PeerManager

/// go-ethereum's postHandshakeChecks and addPeerChecks as PeerSet enforces them, one rule per
/// test, plus what Stockade adds: in-flight IDs count as present, committed peers count at once.
final class PeerSetTests: XCTestCase {
    static let local = id(0xEE)

    /// A 64-byte node ID filled with `byte` (PeerSet compares IDs as bytes, it does not parse keys).
    static func id(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 64) }

    /// MaxPeers 3 with DialRatio 3: at most 1 dialed, so 2 inbound (go-ethereum's arithmetic).
    static func set(maxPeers: Int = 3, maxDialed: Int = 1, maxInbound: Int = 2) -> PeerSet {
        PeerSet(localID: local, limits: .init(maxPeers: maxPeers, maxDialed: maxDialed, maxInbound: maxInbound))
    }

    /// Runs both checks and the handoff for one peer; the first refusal, or nil when it is live.
    @discardableResult
    static func connect(_ set: inout PeerSet, _ id: [UInt8], _ direction: PeerSet.Direction, connection: UInt64,
                        staticDial: Bool = false, sharesCapability: Bool = true) -> DisconnectCode? {
        if case .reject(let code) = set.checkPostHandshake(id: id, direction: direction, connectionID: connection, staticDial: staticDial) {
            return code
        }
        if case .reject(let code) = set.checkAddPeer(id: id, direction: direction, connectionID: connection, sharesCapability: sharesCapability) {
            return code
        }
        XCTAssertTrue(set.makeLive(id: id, connectionID: connection))
        return nil
    }

    // MARK: TooManyPeers

    func testMaxPeersRefusesOutboundOnceFull() {
        var s = Self.set()
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        XCTAssertNil(Self.connect(&s, Self.id(2), .inbound, connection: 2))
        XCTAssertNil(Self.connect(&s, Self.id(3), .outbound, connection: 3))
        XCTAssertEqual(s.liveCount, 3)
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(4), direction: .outbound, connectionID: 4), .reject(.tooManyPeers))
        XCTAssertFalse(s.contains(Self.id(4)), "a refused peer must hold no reservation")
    }

    func testMaxPeersRefusesInboundWhenInboundLimitEqualsMaxPeers() {
        // NoDial: maxDialed 0, so the inbound limit is MaxPeers itself and MaxPeers is what bites.
        var s = Self.set(maxPeers: 2, maxDialed: 0, maxInbound: 2)
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        XCTAssertNil(Self.connect(&s, Self.id(2), .inbound, connection: 2))
        XCTAssertEqual(Self.connect(&s, Self.id(3), .inbound, connection: 3), .tooManyPeers)
    }

    func testMaxPeersZeroRefusesEveryUntrustedPeer() {
        var s = Self.set(maxPeers: 0, maxDialed: 0, maxInbound: 0)
        XCTAssertEqual(Self.connect(&s, Self.id(1), .inbound, connection: 1), .tooManyPeers)
        XCTAssertEqual(Self.connect(&s, Self.id(2), .outbound, connection: 2), .tooManyPeers)
    }

    func testInboundLimitIsMaxPeersMinusDialedShare() {
        var s = Self.set()   // MaxPeers 3, inbound limit 3 − 3/3 = 2
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        XCTAssertNil(Self.connect(&s, Self.id(2), .inbound, connection: 2))
        // Two peers of three: MaxPeers is not reached, the inbound share is.
        XCTAssertEqual(s.admittedCount, 2)
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(3), direction: .inbound, connectionID: 3), .reject(.tooManyPeers))
        // The dialed share is still free.
        XCTAssertNil(Self.connect(&s, Self.id(4), .outbound, connection: 4))
        XCTAssertEqual(s.admittedCount(.inbound), 2)
        XCTAssertEqual(s.admittedCount(.outbound), 1)
    }

    func testOutboundPeersDoNotUseTheInboundShare() {
        var s = Self.set(maxPeers: 4, maxDialed: 1, maxInbound: 3)
        XCTAssertNil(Self.connect(&s, Self.id(1), .outbound, connection: 1))
        XCTAssertNil(Self.connect(&s, Self.id(2), .outbound, connection: 2))
        for i in UInt8(3)...4 { XCTAssertNil(Self.connect(&s, Self.id(i), .inbound, connection: UInt64(i))) }
        // 4 of 4: both rules now refuse an inbound one; MaxPeers refuses an outbound one.
        XCTAssertEqual(Self.connect(&s, Self.id(5), .inbound, connection: 5), .tooManyPeers)
        XCTAssertEqual(Self.connect(&s, Self.id(6), .outbound, connection: 6), .tooManyPeers)
    }

    func testDroppedPeerFreesItsSlot() {
        var s = Self.set(maxPeers: 1, maxDialed: 0, maxInbound: 1)
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        XCTAssertEqual(Self.connect(&s, Self.id(2), .inbound, connection: 2), .tooManyPeers)
        s.drop(id: Self.id(1), connectionID: 1)
        XCTAssertEqual(s.liveCount, 0)
        XCTAssertNil(Self.connect(&s, Self.id(2), .inbound, connection: 3))
    }

    func testLoweredLimitsApplyToNewPeersOnly() {
        var s = Self.set(maxPeers: 3, maxDialed: 0, maxInbound: 3)
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        XCTAssertNil(Self.connect(&s, Self.id(2), .inbound, connection: 2))
        s.limits = .init(maxPeers: 1, maxDialed: 0, maxInbound: 1)
        XCTAssertEqual(s.liveCount, 2, "a reload does not drop anyone")
        XCTAssertEqual(Self.connect(&s, Self.id(3), .inbound, connection: 3), .tooManyPeers)
    }

    // MARK: committed peers count at once

    func testHandshakingReservationsDoNotCountButCommittedOnesDo() {
        var s = Self.set(maxPeers: 1, maxDialed: 0, maxInbound: 1)
        // Three handshakes pass the first check: reservations are not peers yet.
        for i in UInt8(1)...3 {
            XCTAssertEqual(s.checkPostHandshake(id: Self.id(i), direction: .inbound, connectionID: UInt64(i)), .accept(trusted: false))
        }
        XCTAssertEqual(s.admittedCount, 0)
        // The first to pass the add-peer check counts at once, before its handoff arrives:
        // the others are refused then, so concurrent handshakes cannot overshoot MaxPeers.
        XCTAssertEqual(s.checkAddPeer(id: Self.id(1), direction: .inbound, connectionID: 1, sharesCapability: true), .accept(trusted: false))
        XCTAssertEqual(s.admittedCount, 1)
        XCTAssertEqual(s.liveCount, 0)
        XCTAssertEqual(s.checkAddPeer(id: Self.id(2), direction: .inbound, connectionID: 2, sharesCapability: true), .reject(.tooManyPeers))
        XCTAssertEqual(s.checkAddPeer(id: Self.id(3), direction: .inbound, connectionID: 3, sharesCapability: true), .reject(.tooManyPeers))
        XCTAssertFalse(s.contains(Self.id(2)))
        XCTAssertFalse(s.contains(Self.id(3)))
        XCTAssertTrue(s.makeLive(id: Self.id(1), connectionID: 1))
        XCTAssertEqual(s.liveCount(.inbound), 1)
    }

    // MARK: AlreadyConnected

    func testSameIDWhileLiveIsAlreadyConnected() {
        var s = Self.set()
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(1), direction: .inbound, connectionID: 2), .reject(.alreadyConnected))
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(1), direction: .outbound, connectionID: 3), .reject(.alreadyConnected))
        // The refusals leave the live peer's entry alone.
        XCTAssertEqual(s.entries[Self.id(1)]?.connectionID, 1)
        XCTAssertEqual(s.entries[Self.id(1)]?.stage, .live)
    }

    func testTwoSimultaneousHandshakesOfOneIDCannotBothPass() {
        var s = Self.set()
        // Both finished the encryption handshake; neither has a Hello yet (go-ethereum would let both through).
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(7), direction: .inbound, connectionID: 1), .accept(trusted: false))
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(7), direction: .inbound, connectionID: 2), .reject(.alreadyConnected))
        XCTAssertEqual(s.entries[Self.id(7)]?.stage, .handshaking)
        // The loser's add-peer question (had it got that far) finds no reservation of its own.
        XCTAssertEqual(s.checkAddPeer(id: Self.id(7), direction: .inbound, connectionID: 2, sharesCapability: true), .reject(.alreadyConnected))
        XCTAssertEqual(s.checkAddPeer(id: Self.id(7), direction: .inbound, connectionID: 1, sharesCapability: true), .accept(trusted: false))
        XCTAssertFalse(s.makeLive(id: Self.id(7), connectionID: 2), "the loser's handoff must be refused")
        XCTAssertTrue(s.makeLive(id: Self.id(7), connectionID: 1))
    }

    func testAbortedHandshakeReleasesTheID() {
        var s = Self.set()
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(1), direction: .inbound, connectionID: 1), .accept(trusted: false))
        // Another connection's abort does not release it.
        s.abort(id: Self.id(1), connectionID: 99)
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(1), direction: .inbound, connectionID: 2), .reject(.alreadyConnected))
        s.abort(id: Self.id(1), connectionID: 1)
        XCTAssertFalse(s.contains(Self.id(1)))
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(1), direction: .inbound, connectionID: 3), .accept(trusted: false))
    }

    func testAbortAndStaleDropLeaveALivePeer() {
        var s = Self.set()
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        s.abort(id: Self.id(1), connectionID: 1)
        s.drop(id: Self.id(1), connectionID: 2)
        XCTAssertEqual(s.liveCount, 1)
        s.drop(id: Self.id(1), connectionID: 1)
        XCTAssertEqual(s.liveCount, 0)
    }

    func testWorkerDeathForgetsItsReservationsNotLivePeers() {
        var s = Self.set(maxPeers: 10, maxDialed: 3, maxInbound: 7)
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        _ = s.checkPostHandshake(id: Self.id(2), direction: .inbound, connectionID: 2)
        _ = s.checkPostHandshake(id: Self.id(3), direction: .inbound, connectionID: 3)
        _ = s.checkAddPeer(id: Self.id(3), direction: .inbound, connectionID: 3, sharesCapability: true)
        _ = s.checkPostHandshake(id: Self.id(4), direction: .inbound, connectionID: 4)
        s.abortAll(connectionIDs: [1, 2, 3])
        XCTAssertTrue(s.contains(Self.id(1)), "live peer 1 no longer belongs to the worker")
        XCTAssertFalse(s.contains(Self.id(2)))
        XCTAssertFalse(s.contains(Self.id(3)), "a committed peer awaiting its handoff died with the worker")
        XCTAssertTrue(s.contains(Self.id(4)), "another worker's handshake")
    }

    func testAddPeerWithoutReservationIsAlreadyConnected() {
        var s = Self.set()
        XCTAssertEqual(s.checkAddPeer(id: Self.id(5), direction: .inbound, connectionID: 5, sharesCapability: true), .reject(.alreadyConnected))
    }

    // MARK: Self

    func testOwnIDIsSelf() {
        var s = Self.set()
        XCTAssertEqual(s.checkPostHandshake(id: Self.local, direction: .inbound, connectionID: 1), .reject(.selfConnection))
        XCTAssertEqual(s.checkPostHandshake(id: Self.local, direction: .outbound, connectionID: 2), .reject(.selfConnection))
        XCTAssertFalse(s.contains(Self.local))
    }

    func testTooManyPeersIsCheckedBeforeSelfAndAlreadyConnected() {
        // go-ethereum's order in postHandshakeChecks: the limits first.
        var s = Self.set(maxPeers: 1, maxDialed: 0, maxInbound: 1)
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        XCTAssertEqual(s.checkPostHandshake(id: Self.local, direction: .inbound, connectionID: 2), .reject(.tooManyPeers))
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(1), direction: .inbound, connectionID: 3), .reject(.tooManyPeers))
    }

    // MARK: UselessPeer

    func testNoSharedCapabilityIsUselessPeerAndReleasesTheID() {
        var s = Self.set()
        XCTAssertEqual(Self.connect(&s, Self.id(1), .inbound, connection: 1, sharesCapability: false), .uselessPeer)
        XCTAssertFalse(s.contains(Self.id(1)))
        XCTAssertEqual(s.admittedCount, 0)
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 2))
    }

    func testAddPeerChecksRunTheLimitsAgain() {
        // The peer set filled while this peer was exchanging Hellos.
        var s = Self.set(maxPeers: 1, maxDialed: 0, maxInbound: 1)
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(1), direction: .inbound, connectionID: 1), .accept(trusted: false))
        XCTAssertNil(Self.connect(&s, Self.id(2), .inbound, connection: 2))
        XCTAssertEqual(s.checkAddPeer(id: Self.id(1), direction: .inbound, connectionID: 1, sharesCapability: true), .reject(.tooManyPeers))
        XCTAssertFalse(s.contains(Self.id(1)))
    }

    // MARK: trusted and static

    func testTrustedPeerIsAcceptedAboveBothLimits() {
        var s = Self.set(maxPeers: 1, maxDialed: 0, maxInbound: 1)
        s.trusted = [Self.id(9)]
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(9), direction: .inbound, connectionID: 2), .accept(trusted: true))
        XCTAssertEqual(s.checkAddPeer(id: Self.id(9), direction: .inbound, connectionID: 2, sharesCapability: true), .accept(trusted: true))
        XCTAssertTrue(s.makeLive(id: Self.id(9), connectionID: 2))
        XCTAssertEqual(s.entries[Self.id(9)]?.trusted, true)
        XCTAssertEqual(s.liveCount, 2)
        // Its presence still counts against untrusted peers.
        XCTAssertEqual(Self.connect(&s, Self.id(3), .outbound, connection: 3), .tooManyPeers)
    }

    func testTrustedPeerIsStillCheckedForDuplicatesSelfAndCapability() {
        var s = Self.set()
        s.trusted = [Self.id(9), Self.local]
        XCTAssertNil(Self.connect(&s, Self.id(9), .inbound, connection: 1))
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(9), direction: .inbound, connectionID: 2), .reject(.alreadyConnected))
        XCTAssertEqual(s.checkPostHandshake(id: Self.local, direction: .inbound, connectionID: 3), .reject(.selfConnection))
        XCTAssertEqual(Self.connect(&s, Self.id(8), .inbound, connection: 4, sharesCapability: false), .uselessPeer)
    }

    func testUntrustedAgainIsLimitedAgain() {
        var s = Self.set(maxPeers: 1, maxDialed: 0, maxInbound: 1)
        s.trusted = [Self.id(9)]
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        XCTAssertTrue(s.isTrusted(Self.id(9)))
        s.trusted.remove(Self.id(9))
        XCTAssertFalse(s.isTrusted(Self.id(9)))
        XCTAssertEqual(Self.connect(&s, Self.id(9), .inbound, connection: 2), .tooManyPeers)
    }

    func testStaticDialIsExemptFromMaxPeers() {
        var s = Self.set(maxPeers: 1, maxDialed: 1, maxInbound: 0)
        XCTAssertNil(Self.connect(&s, Self.id(1), .outbound, connection: 1))
        XCTAssertEqual(Self.connect(&s, Self.id(2), .outbound, connection: 2), .tooManyPeers)
        // go-ethereum's staticDialedConn: a dial of a static node is not held to MaxPeers.
        XCTAssertNil(Self.connect(&s, Self.id(3), .outbound, connection: 3, staticDial: true))
        XCTAssertEqual(s.entries[Self.id(3)]?.staticDial, true)
        XCTAssertEqual(s.liveCount(.outbound), 2)
        // ... but still to the other rules.
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(3), direction: .outbound, connectionID: 4, staticDial: true), .reject(.alreadyConnected))
        XCTAssertEqual(s.checkPostHandshake(id: Self.local, direction: .outbound, connectionID: 5, staticDial: true), .reject(.selfConnection))
    }

    func testInboundFromAStaticNodeIsNotExempt() {
        // Only a dial is a static dial; the same node connecting in is an ordinary inbound peer.
        var s = Self.set(maxPeers: 1, maxDialed: 0, maxInbound: 1)
        XCTAssertNil(Self.connect(&s, Self.id(1), .inbound, connection: 1))
        XCTAssertEqual(Self.connect(&s, Self.id(2), .inbound, connection: 2, staticDial: false), .tooManyPeers)
    }

    func testMakeLiveNeedsTheCommittedStage() {
        var s = Self.set()
        XCTAssertEqual(s.checkPostHandshake(id: Self.id(1), direction: .inbound, connectionID: 1), .accept(trusted: false))
        XCTAssertFalse(s.makeLive(id: Self.id(1), connectionID: 1), "a handoff before the add-peer check")
        XCTAssertFalse(s.makeLive(id: Self.id(2), connectionID: 2), "a handoff for an unknown ID")
    }
}
