import NodeConfig
import XCTest
@testable import Acceptor

/// The acceptor's checks on a source before its connection costs a handshake, built from the
/// settings the supervisor sends: NetRestrict, pending slots kept for trusted nodes,
/// per-source penalties, the inbound throttle (LAN spared unless throttle_lan).
final class InboundAdmissionTests: XCTestCase {
    let t0 = ContinuousClock.now
    static let publicIP = "203.0.113.50"

    static func admission(trusted: [String] = [], _ edit: (inout NodeConfig.Peers) -> Void = { _ in }) -> InboundAdmission {
        var config = NodeConfig.defaults
        edit(&config.peers)
        return InboundAdmission(settings: AcceptorSettings(config: config, trustedAddresses: trusted))
    }

    /// A refusal with room in every slot: only the source's own record matters.
    static func refusal(_ a: inout InboundAdmission, _ ip: String, at now: ContinuousClock.Instant) -> String? {
        a.refusal(for: ip, untrustedPending: 0, maxPending: 50, now: now)
    }

    // MARK: NetRestrict

    func testNetRestrictAdmitsOnlyListedNetworks() {
        var a = Self.admission { $0.netrestrict = ["10.0.0.0/8", "fd00::/8"] }
        XCTAssertEqual(Self.refusal(&a, "127.0.0.1", at: t0), "not in netrestrict")
        XCTAssertEqual(Self.refusal(&a, "11.0.0.1", at: t0), "not in netrestrict")
        XCTAssertNil(Self.refusal(&a, "10.1.2.3", at: t0))
        XCTAssertNil(Self.refusal(&a, "fd12::1", at: t0))
        XCTAssertNil(Self.refusal(&a, "::ffff:10.9.9.9", at: t0), "an IPv4-mapped address of a listed network")
    }

    func testEmptyNetRestrictAdmitsEveryone() {
        var a = Self.admission()
        XCTAssertNil(Self.refusal(&a, Self.publicIP, at: t0))
        XCTAssertNil(Self.refusal(&a, "::1", at: t0))
    }

    func testNetRestrictAppliesToTrustedAddressesToo() {
        var a = Self.admission(trusted: ["127.0.0.1"]) { $0.netrestrict = ["10.0.0.0/8"] }
        XCTAssertEqual(Self.refusal(&a, "127.0.0.1", at: t0), "not in netrestrict")
    }

    // MARK: inbound throttle

    func testNonLANAddressIsThrottledWithinTheWindow() {
        var a = Self.admission()
        XCTAssertNil(Self.refusal(&a, Self.publicIP, at: t0))
        XCTAssertEqual(Self.refusal(&a, Self.publicIP, at: t0 + .seconds(29)),
                       "too many attempts (connected within the inbound throttle window)")
        XCTAssertNil(Self.refusal(&a, Self.publicIP, at: t0 + .seconds(60)), "the window expired")
    }

    func testLANAddressesAreSparedUnlessThrottleLAN() {
        var spared = Self.admission()
        for ip in ["127.0.0.1", "10.0.0.1", "192.168.1.1", "172.16.0.1", "::1", "fe80::1"] {
            XCTAssertNil(Self.refusal(&spared, ip, at: t0), ip)
            XCTAssertNil(Self.refusal(&spared, ip, at: t0 + .seconds(1)), ip)
        }
        var strict = Self.admission { $0.throttleLAN = true }
        XCTAssertNil(Self.refusal(&strict, "127.0.0.1", at: t0))
        XCTAssertNotNil(Self.refusal(&strict, "127.0.0.1", at: t0 + .seconds(1)))
    }

    func testThrottleWindowComesFromTheSettings() {
        var a = Self.admission { $0.inboundThrottleMs = 2000 }
        XCTAssertNil(Self.refusal(&a, Self.publicIP, at: t0))
        XCTAssertNotNil(Self.refusal(&a, Self.publicIP, at: t0 + .milliseconds(1999)))
        XCTAssertNil(Self.refusal(&a, Self.publicIP, at: t0 + .milliseconds(1999) + .seconds(2)))
        var off = Self.admission { $0.inboundThrottleMs = 0 }
        XCTAssertNil(Self.refusal(&off, Self.publicIP, at: t0))
        XCTAssertNil(Self.refusal(&off, Self.publicIP, at: t0))
    }

    func testTrustedAddressIsNotThrottled() {
        var a = Self.admission(trusted: [Self.publicIP])
        XCTAssertNil(Self.refusal(&a, Self.publicIP, at: t0))
        XCTAssertNil(Self.refusal(&a, Self.publicIP, at: t0 + .seconds(1)))
    }

    // MARK: trusted pending slots (go-ethereum issue 29329)

    func testLastPendingSlotsAreKeptForTrustedAddresses() {
        var a = Self.admission(trusted: ["192.0.2.1"]) { $0.maxPending = 10; $0.trustedPendingSlots = 3 }
        XCTAssertEqual(a.trustedPendingSlots, 3)
        XCTAssertNil(a.refusal(for: Self.publicIP, untrustedPending: 6, maxPending: 10, now: t0))
        XCTAssertEqual(a.refusal(for: "203.0.113.51", untrustedPending: 7, maxPending: 10, now: t0),
                       "remaining handshake slots are kept for trusted nodes")
        XCTAssertNil(a.refusal(for: "192.0.2.1", untrustedPending: 7, maxPending: 10, now: t0))
        XCTAssertNil(a.refusal(for: "192.0.2.1", untrustedPending: 9, maxPending: 10, now: t0))
    }

    func testNoSlotsAreKeptWithoutTrustedNodes() {
        var a = Self.admission { $0.maxPending = 10; $0.trustedPendingSlots = 3 }
        XCTAssertEqual(a.trustedPendingSlots, 0)
        XCTAssertNil(a.refusal(for: Self.publicIP, untrustedPending: 9, maxPending: 10, now: t0))
    }

    // MARK: penalties

    func testFailedHandshakesPenaliseTheSource() throws {
        var a = Self.admission()
        for _ in 0..<3 { a.failed("127.0.0.1", offence: .protocolViolation, now: t0) }
        let reason = try XCTUnwrap(Self.refusal(&a, "127.0.0.1", at: t0))
        XCTAssertEqual(reason, "penalised for 1 s more (earlier connections misbehaved)")
        XCTAssertNil(Self.refusal(&a, "127.0.0.2", at: t0))
    }

    func testPenaltiesOffRecordsNothing() {
        var a = Self.admission { $0.penalties = false }
        for _ in 0..<10 { a.failed("127.0.0.1", offence: .protocolViolation, now: t0) }
        XCTAssertNil(Self.refusal(&a, "127.0.0.1", at: t0))
    }

    func testPenaltyExemptFromTheSettings() {
        var a = Self.admission { $0.penaltyExempt = ["127.0.0.0/8"] }
        for _ in 0..<10 { a.failed("127.0.0.1", offence: .protocolViolation, now: t0) }
        XCTAssertNil(Self.refusal(&a, "127.0.0.1", at: t0))
    }

    func testTwoWorkerDeathsWithinTheWindowAreACrashOffence() throws {
        var a = Self.admission()
        a.inFlightOnWorkerDeath(Self.publicIP, now: t0)
        // Asked of the penalties directly: refusal(for:) would also count as a throttle attempt.
        XCTAssertNil(a.penalties.refusal(Self.publicIP, now: t0 + .seconds(1)), "one death may be an operator's kill")
        a.inFlightOnWorkerDeath(Self.publicIP, now: t0 + .seconds(100))
        XCTAssertEqual(a.penalties.refusal(Self.publicIP, now: t0 + .seconds(100)), 76)
    }

    func testWorkerDeathsFarApartAreNoOffence() {
        var a = Self.admission()
        a.inFlightOnWorkerDeath(Self.publicIP, now: t0)
        a.inFlightOnWorkerDeath(Self.publicIP, now: t0 + InboundAdmission.crashWindow + .seconds(1))
        XCTAssertNil(a.penalties.refusal(Self.publicIP, now: t0 + InboundAdmission.crashWindow + .seconds(1)))
    }
}

/// Issue 9, fault 9: MaxStartups random early drop and the per-network pending limit.
final class StartupLimitsTests: XCTestCase {
    func testDropChanceFollowsMaxStartups10_30_100() {
        XCTAssertEqual(StartupLimits.dropChance(pending: 9, maxPending: 100), 0)
        XCTAssertEqual(StartupLimits.dropChance(pending: 10, maxPending: 100), 0.3, accuracy: 1e-9)
        XCTAssertEqual(StartupLimits.dropChance(pending: 55, maxPending: 100), 0.65, accuracy: 1e-9)
        XCTAssertEqual(StartupLimits.dropChance(pending: 100, maxPending: 100), 1)
        XCTAssertEqual(StartupLimits.dropChance(pending: 4, maxPending: 50), 0)
        XCTAssertEqual(StartupLimits.dropChance(pending: 5, maxPending: 50), 0.3, accuracy: 1e-9)
    }

    func testNetworksAreSlash24AndSlash64() {
        XCTAssertEqual(StartupLimits.network(of: "203.0.113.7"), StartupLimits.network(of: "203.0.113.200"))
        XCTAssertNotEqual(StartupLimits.network(of: "203.0.113.7"), StartupLimits.network(of: "203.0.114.7"))
        XCTAssertEqual(StartupLimits.network(of: "2001:db8:1:2::1"), StartupLimits.network(of: "2001:db8:1:2:ffff::9"))
        XCTAssertNotEqual(StartupLimits.network(of: "2001:db8:1:2::1"), StartupLimits.network(of: "2001:db8:1:3::1"))
        XCTAssertEqual(StartupLimits.network(of: "::ffff:203.0.113.7"), StartupLimits.network(of: "203.0.113.9"))
    }

    func testPerNetworkLimitAndEarlyDropSpareTrustedAndLAN() throws {
        var cfg = try NodeConfig.parse("[peers]\nmax_pending = 50\nmax_pending_per_network = 10\ninbound_throttle_ms = 0\n")
        let settings = AcceptorSettings(config: cfg, trustedAddresses: ["198.51.100.1"])
        var a = InboundAdmission(settings: settings)
        let now = ContinuousClock.now
        XCTAssertNotNil(a.refusal(for: "203.0.113.7", untrustedPending: 20, pendingInNetwork: 10, maxPending: 50, now: now))
        XCTAssertNil(a.refusal(for: "203.0.113.7", untrustedPending: 3, pendingInNetwork: 9, maxPending: 50, roll: 0, now: now))
        XCTAssertNotNil(a.refusal(for: "203.0.113.7", untrustedPending: 30, pendingInNetwork: 1, maxPending: 50, roll: 0.5, now: now))
        XCTAssertNil(a.refusal(for: "203.0.113.7", untrustedPending: 30, pendingInNetwork: 1, maxPending: 50, roll: 0.99, now: now))
        // Trusted addresses and LAN sources are spared.
        XCTAssertNil(a.refusal(for: "198.51.100.1", untrustedPending: 40, pendingInNetwork: 40, maxPending: 50, roll: 0, now: now))
        XCTAssertNil(a.refusal(for: "192.168.1.5", untrustedPending: 40, pendingInNetwork: 40, maxPending: 50, roll: 0, now: now))
        cfg.peers.throttleLAN = true
        a.apply(AcceptorSettings(config: cfg, trustedAddresses: []))
        XCTAssertNotNil(a.refusal(for: "192.168.1.5", untrustedPending: 40, pendingInNetwork: 40, maxPending: 50, roll: 0, now: now))
    }
}
