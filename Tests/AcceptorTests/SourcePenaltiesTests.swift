import NodeConfig
import XCTest
@testable import Acceptor

/// Per-source penalties after OpenSSH's PerSourcePenalties: offences accumulate, a source is
/// refused at the threshold, penalty drains one second per second, exempt networks are spared.
final class SourcePenaltiesTests: XCTestCase {
    let t0 = ContinuousClock.now
    let ip = "198.51.100.9"

    func testProtocolViolationsAccumulateToTheThreshold() {
        var p = SourcePenalties(exempt: [])
        p.record(.protocolViolation, source: ip, now: t0)
        p.record(.protocolViolation, source: ip, now: t0)
        XCTAssertNil(p.refusal(ip, now: t0), "10 s of penalty is below the 15 s threshold")
        p.record(.protocolViolation, source: ip, now: t0)
        XCTAssertEqual(p.refusal(ip, now: t0), 1, "15 s reached: refused, 1 s left")
        XCTAssertNil(p.refusal("198.51.100.10", now: t0), "only that source")
    }

    func testOffencesWeighAsOpenSSHs() {
        XCTAssertEqual(SourcePenalties.Offence.protocolViolation.seconds, 5)
        XCTAssertEqual(SourcePenalties.Offence.timeout.seconds, 1)
        XCTAssertEqual(SourcePenalties.Offence.crash.seconds, 90)
        var p = SourcePenalties(exempt: [])
        for _ in 0..<14 { p.record(.timeout, source: ip, now: t0) }
        XCTAssertNil(p.refusal(ip, now: t0), "14 stalls")
        p.record(.timeout, source: ip, now: t0)
        XCTAssertNotNil(p.refusal(ip, now: t0), "the 15th")
        var q = SourcePenalties(exempt: [])
        q.record(.crash, source: ip, now: t0)
        XCTAssertEqual(q.refusal(ip, now: t0), 76, "one crash: 90 s of penalty, refused while above 15")
    }

    func testPenaltyDrainsOneSecondPerSecond() {
        var p = SourcePenalties(exempt: [])
        for _ in 0..<4 { p.record(.protocolViolation, source: ip, now: t0) }   // 20 s
        XCTAssertEqual(p.refusal(ip, now: t0), 6)
        XCTAssertEqual(p.refusal(ip, now: t0 + .seconds(3)), 3)
        XCTAssertEqual(p.refusal(ip, now: t0 + .milliseconds(4500)), 1.5)
        XCTAssertNil(p.refusal(ip, now: t0 + .milliseconds(5001)), "below the threshold again")
    }

    func testOffencesAfterDrainingAddToWhatIsLeft() {
        var p = SourcePenalties(exempt: [])
        p.record(.protocolViolation, source: ip, now: t0)
        p.record(.protocolViolation, source: ip, now: t0)   // 10
        p.record(.protocolViolation, source: ip, now: t0 + .seconds(4))   // 6 left + 5 = 11
        XCTAssertNil(p.refusal(ip, now: t0 + .seconds(4)))
        p.record(.protocolViolation, source: ip, now: t0 + .seconds(4))   // 16
        XCTAssertEqual(p.refusal(ip, now: t0 + .seconds(4)), 2)
    }

    func testPenaltyIsCappedAtTheMaximum() {
        var p = SourcePenalties(exempt: [])
        for _ in 0..<20 { p.record(.crash, source: ip, now: t0) }   // 1800 s asked, 600 kept
        XCTAssertEqual(p.refusal(ip, now: t0), SourcePenalties.maximum - SourcePenalties.threshold + 1)
        XCTAssertNil(p.refusal(ip, now: t0 + .seconds(Int64(SourcePenalties.maximum - SourcePenalties.threshold) + 1)))
    }

    func testExemptNetworksAreNeverPenalised() throws {
        let exempt = try [XCTUnwrap(CIDR(parsing: "127.0.0.0/8")), XCTUnwrap(CIDR(parsing: "2001:db8::/32"))]
        var p = SourcePenalties(exempt: exempt)
        for source in ["127.0.0.1", "127.200.1.1", "2001:db8::7", "::ffff:127.0.0.1"] {
            for _ in 0..<10 { p.record(.crash, source: source, now: t0) }
            XCTAssertNil(p.refusal(source, now: t0), source)
        }
        for _ in 0..<3 { p.record(.protocolViolation, source: "128.0.0.1", now: t0) }
        XCTAssertNotNil(p.refusal("128.0.0.1", now: t0), "just outside 127.0.0.0/8")
    }
}
