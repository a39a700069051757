#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SOCKS5
import XCTest

final class SOCKS5AddressTextTests: XCTestCase {
    func v6(_ fields: [UInt16]) -> SOCKS5Address { .ipv6(fields.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }) }

    func testIPv4AndDomain() {
        XCTAssertEqual(SOCKS5Address.ipv4([192, 0, 2, 1]).hostText, "192.0.2.1")
        XCTAssertEqual(SOCKS5Address.ipv4([0, 0, 0, 0]).hostText, "0.0.0.0")
        XCTAssertEqual(SOCKS5Address.ipv4([255, 255, 255, 255]).hostText, "255.255.255.255")
        XCTAssertEqual(SOCKS5Address.domain("Example.COM").hostText, "Example.COM")
    }

    /// RFC 5952 §4 and §5, with its own examples.
    func testIPv6RFC5952() {
        XCTAssertEqual(v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]).hostText, "2001:db8::1")            // §4.2.1
        XCTAssertEqual(v6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]).hostText, "2001:db8:0:1:1:1:1:1")  // §4.2.2
        XCTAssertEqual(v6([0x2001, 0, 0, 1, 0, 0, 0, 1]).hostText, "2001:0:0:1::1")             // §4.2.3 longest
        XCTAssertEqual(v6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]).hostText, "2001:db8::1:0:0:1")     // §4.2.3 first
        XCTAssertEqual(v6([0x2001, 0xdb8, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd, 0xeeee, 0x0aaa]).hostText,
                       "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaa")                                // §4.1, §4.3
        XCTAssertEqual(v6([0, 0, 0, 0, 0, 0, 0, 0]).hostText, "::")
        XCTAssertEqual(v6([0, 0, 0, 0, 0, 0, 0, 1]).hostText, "::1")
        XCTAssertEqual(v6([1, 0, 0, 0, 0, 0, 0, 0]).hostText, "1::")
        XCTAssertEqual(v6([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280]).hostText, "::ffff:192.0.2.128") // §5
        XCTAssertEqual(SOCKS5Address.ipv6([1, 2]).hostText, "<IPv6 of 2 bytes>")
    }

    /// Agrees with the C library's inet_ntop on random addresses rich in zero fields (leaving out
    /// the deprecated IPv4-compatible ::a.b.c.d form, which glibc writes in dotted notation).
    func testIPv6AgreesWithInetNtop() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let fields = (0..<8).map { _ in Bool.random(using: &rng) ? UInt16(0) : UInt16.random(in: 0...0xffff, using: &rng) }
            let address = v6(fields)
            guard case .ipv6(let bytes) = address, !bytes[0..<12].allSatisfy({ $0 == 0 }) else { continue }
            var addr = in6_addr()
            withUnsafeMutableBytes(of: &addr) { $0.copyBytes(from: bytes) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            XCTAssertNotNil(inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)))
            let expected = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            XCTAssertEqual(address.hostText, expected, "\(fields)")
        }
    }
}
