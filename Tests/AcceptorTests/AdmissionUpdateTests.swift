import NodeConfig
import XCTest
@testable import Acceptor

/// New rules reach a running acceptor (a reload, a node trusted at run time) without wiping
/// what it learned about sources, unless the rule that learning depends on changed.
final class AdmissionUpdateTests: XCTestCase {
    let t0 = ContinuousClock.now
    let source = "203.0.113.9"

    func settings(trusted: [String] = [], _ edit: (inout NodeConfig.Peers) -> Void = { _ in }) -> AcceptorSettings {
        var config = NodeConfig.defaults
        edit(&config.peers)
        return AcceptorSettings(config: config, trustedAddresses: trusted)
    }

    func testPenaltiesAndThrottleSurviveANewTrustedList() {
        var a = InboundAdmission(settings: settings())
        for _ in 0..<3 { a.failed(source, offence: .protocolViolation, now: t0) }
        XCTAssertNotNil(a.refusal(for: source, untrustedPending: 0, maxPending: 50, now: t0))
        XCTAssertNil(a.refusal(for: "198.51.100.1", untrustedPending: 0, maxPending: 50, now: t0))

        a.apply(settings(trusted: ["192.0.2.1"]))
        XCTAssertTrue(a.isTrusted("192.0.2.1"))
        XCTAssertNotNil(a.refusal(for: source, untrustedPending: 0, maxPending: 50, now: t0), "penalty forgotten")
        XCTAssertEqual(a.refusal(for: "198.51.100.1", untrustedPending: 0, maxPending: 50, now: t0.advanced(by: .seconds(1))),
                       "too many attempts (connected within the inbound throttle window)", "throttle history forgotten")
    }

    func testAChangedExemptListStartsPenaltiesOver() {
        var a = InboundAdmission(settings: settings())
        for _ in 0..<3 { a.failed(source, offence: .protocolViolation, now: t0) }
        a.apply(settings { $0.penaltyExempt = ["10.0.0.0/8"] })
        XCTAssertNil(a.refusal(for: source, untrustedPending: 0, maxPending: 50, now: t0))
    }
}
