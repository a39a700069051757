import Enode
import ExitPolicy
import XCTest

/// Every form of an address that must not pass for another (OWASP SSRF bypass classes,
/// inet_aton's forms, RFC 6761 localhost), and the hosts that must be refused outright.
final class CanonicalTests: XCTestCase {
    func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    func testLoopbackInEveryForm() {
        let loopback = CanonicalHost.ip(ip("127.0.0.1"))
        for form in ["127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0X7F000001", "0x7f.0.0.1", "0x7f.1",
                     "0177.0.0.1", "0177.0.0.01", "017700000001", "::ffff:127.0.0.1", "::ffff:7f00:1", "0:0:0:0:0:ffff:7f00:1",
                     "0.0.0.0", "0", "0x0", "00", "0.0", "::ffff:0.0.0.0", "127.0.0.1.",
                     "localhost", "LOCALHOST.", "LocalHost", "a.localhost", "x.y.LOCALHOST."] {
            XCTAssertEqual(AddressCanonicalizer.canonical(form), loopback, form)
        }
    }

    func testOtherIPv4ShortForms() {
        // inet_aton: the last part fills the bytes left (a.b: b is 24 bits; a.b.c: c is 16 bits).
        XCTAssertEqual(AddressCanonicalizer.canonical("10.1"), .ip(ip("10.0.0.1")))
        XCTAssertEqual(AddressCanonicalizer.canonical("10.16777215"), .ip(ip("10.255.255.255")))
        XCTAssertEqual(AddressCanonicalizer.canonical("192.168.65535"), .ip(ip("192.168.255.255")))
        XCTAssertEqual(AddressCanonicalizer.canonical("4294967295"), .ip(ip("255.255.255.255")))
        XCTAssertEqual(AddressCanonicalizer.canonical("0xa9.0xfe.0xa9.0xfe"), .ip(ip("169.254.169.254")))
        XCTAssertEqual(AddressCanonicalizer.canonical("0251.0376.0251.0376"), .ip(ip("169.254.169.254")))
        // 0.0.0.0/8 beyond 0.0.0.0 itself is not rewritten (see NodeConfig.canonicalAddress).
        XCTAssertEqual(AddressCanonicalizer.canonical("0.1.2.3"), .ip(ip("0.1.2.3")))
    }

    func testIPv6() {
        XCTAssertEqual(AddressCanonicalizer.canonical("::"), .ip(ip("::1")), "the unspecified address reaches loopback")
        XCTAssertEqual(AddressCanonicalizer.canonical("::0"), .ip(ip("::1")))
        XCTAssertEqual(AddressCanonicalizer.canonical("::1"), .ip(ip("::1")))
        XCTAssertEqual(AddressCanonicalizer.canonical("FD00:0::5"), .ip(ip("fd00::5")))
        XCTAssertEqual(AddressCanonicalizer.canonical("::ffff:169.254.169.254"), .ip(ip("169.254.169.254")))
        XCTAssertEqual(AddressCanonicalizer.canonical(ip("::ffff:10.0.0.1")), ip("10.0.0.1"))
        XCTAssertEqual(AddressCanonicalizer.canonical(ip("0.0.0.0")), ip("127.0.0.1"))
        XCTAssertEqual(AddressCanonicalizer.canonical(ip("::")), ip("::1"))
        XCTAssertEqual(AddressCanonicalizer.canonical(ip("10.0.0.1")), ip("10.0.0.1"))
    }

    func testNames() {
        XCTAssertEqual(AddressCanonicalizer.canonical("Example.COM."), .name("example.com"))
        XCTAssertEqual(AddressCanonicalizer.canonical("db_1.internal"), .name("db_1.internal"))
        XCTAssertEqual(AddressCanonicalizer.canonical("1.2.3.4a"), .name("1.2.3.4a"), "last label not numeric: a name")
        XCTAssertEqual(AddressCanonicalizer.canonical("0x1g"), .name("0x1g"))
        XCTAssertEqual(AddressCanonicalizer.canonical("localhost.example"), .name("localhost.example"), "only names under .localhost")
        XCTAssertEqual(AddressCanonicalizer.canonical(String(repeating: "a", count: 63) + ".b"), .name(String(repeating: "a", count: 63) + ".b"))
        let longest = Array(repeating: String(repeating: "a", count: 49), count: 5).joined(separator: ".") + ".abc"  // 253 bytes
        XCTAssertEqual(longest.utf8.count, 253)
        XCTAssertEqual(AddressCanonicalizer.canonical(longest), .name(longest))
    }

    func testRefusals() {
        let tooLong = Array(repeating: String(repeating: "a", count: 49), count: 5).joined(separator: ".") + ".abcd"  // 254 bytes
        for bad in ["", " ", "a b", "a\u{0}b", "a\tb", "fe80::1%eth0", "fe80::1%25eth0", "[::1]", "a..b", ".a", "..", ".",
                    "a.b..", "é.example", "a/b", "a:b", "1.2.3.256", "256.1.1.1", "1.2.3.4.5", "1.16777216", "1.2.65536",
                    "4294967296", "0x100000000", "08.0.0.1", "1.2.3.08", "0x", "1.0x", "1..2", "example.123", tooLong,
                    String(repeating: "a", count: 64) + ".b", "99999999999999999999"] {
            XCTAssertNil(AddressCanonicalizer.canonical(bad), bad.debugDescription)
        }
    }

    func testExitTargetFromMuxAddress() {
        XCTAssertEqual(ExitTarget.from(host: "web", port: 0), .service("web"), "a domain with port 0 names a service")
        XCTAssertNil(ExitTarget.from(host: "Web", port: 0), "service names are lowercase")
        XCTAssertNil(ExitTarget.from(host: "10.0.0.1", port: 0), "port 0 is only for service names")
        XCTAssertEqual(ExitTarget.from(host: "127.1", port: 80), .address(ip("127.0.0.1"), 80))
        XCTAssertEqual(ExitTarget.from(host: "::ffff:7f00:1", port: 80), .address(ip("127.0.0.1"), 80))
        XCTAssertEqual(ExitTarget.from(host: "LOCALHOST.", port: 22), .address(ip("127.0.0.1"), 22))
        XCTAssertEqual(ExitTarget.from(host: "Example.org.", port: 443), .name("example.org", 443))
        XCTAssertNil(ExitTarget.from(host: "", port: 80))
        XCTAssertNil(ExitTarget.from(host: "a\u{0}.example", port: 80))
        XCTAssertNil(ExitTarget.from(host: String(repeating: "a", count: 256), port: 80))
        XCTAssertNil(ExitTarget.from(host: "bad host", port: 80))
        XCTAssertEqual(ExitTarget.address(ip("::1"), 80).description, "[::1]:80")
        XCTAssertEqual(ExitTarget.name("example.org", 443).description, "example.org:443")
        XCTAssertEqual(ExitTarget.service("web").description, "service web")
    }
}
