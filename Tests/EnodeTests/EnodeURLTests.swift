import XCTest
import Secp256k1
import TestVectors
@testable import Enode

/// enode-urls.json: go-ethereum's urlv4_test.go cases. The five ENR text records (`enr:`) are
/// not parsed: Stockade has no discovery, so it has no ENR support to test.
final class EnodeURLTests: XCTestCase {
    private func vectors() throws -> [String: Any] {
        try XCTUnwrap(try TestVectors.json("enode-urls.json") as? [String: Any])
    }

    func testEveryEnodeCase() throws {
        let cases = try XCTUnwrap(try vectors()["enode_cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 15)
        for c in cases {
            let input = c["input"] as! String
            let valid = c["valid"] as! Bool
            if !valid {
                XCTAssertThrowsError(try EnodeURL(parsing: input), "should reject \(input)")
                continue
            }
            let url = try EnodeURL(parsing: input)
            let expected = try XCTUnwrap(c["expected"] as? [String: Any])
            XCTAssertEqual(url.nodeID.hex, expected["pubkey"] as? String, input)
            XCTAssertEqual(url.ip?.description, expected["ip"] as? String, input)
            XCTAssertEqual(Int(url.tcpPort), expected["tcp_port"] as? Int, input)
            XCTAssertEqual(Int(url.udpPort), expected["udp_port"] as? Int, input)
            XCTAssertEqual(url.isIncomplete, expected["incomplete"] as? Bool, input)
            if c["string_roundtrip"] as? Bool == true {
                XCTAssertEqual(url.description, input, "go-ethereum TestNodeString")
            }
        }
    }

    func testInvalidCasesGiveTheRightError() throws {
        let id = try XCTUnwrap(try vectors()["test_pubkey"] as? String)
        let expectations: [(String, EnodeError)] = [
            ("http://foobar", .invalidScheme("http")),
            ("enode://01010101@123.124.125.126:3", .nodeIDWrongLength(8)),
            ("enode://\(id)@hostname:3", .invalidHost("hostname")),
            ("enode://\(id)@127.0.0.1:foo", .invalidPort("foo")),
            ("enode://\(id)@127.0.0.1:3?discport=foo", .invalidDiscoveryPort("foo")),
            ("01010101", .nodeIDWrongLength(8)),
            ("enode://01010101", .nodeIDWrongLength(8)),
            ("://foo", .missingScheme),
            ("", .missingScheme),
            // Beyond the vectors:
            ("enode://\(id)@127.0.0.1", .invalidPort("")),
            ("enode://\(id)@127.0.0.1:65536", .invalidPort("65536")),
            ("enode://\(id)@127.0.0.1:-1", .invalidPort("-1")),
            ("enode://\(id)@127.0.0.1:3?discport=70000", .invalidDiscoveryPort("70000")),
            ("enode://\(id)@::1:30303", .invalidHost("::1:30303")),
            ("enode://\(id)@[::1:30303", .invalidHost("[::1:30303")),
            ("enode://\(id)@[fe80::1%eth0]:30303", .invalidHost("fe80::1%eth0")),
            ("enode://\(id)@1.2.3:30303", .invalidHost("1.2.3")),
            ("enode://\(String(repeating: "zz", count: 64))@127.0.0.1:3", .nodeIDNotHex),
            ("enode://\(String(repeating: "00", count: 64))@127.0.0.1:3", .nodeIDNotOnCurve),
            ("hello", .missingScheme),
        ]
        for (input, error) in expectations {
            XCTAssertThrowsError(try EnodeURL(parsing: input), input) { XCTAssertEqual($0 as? EnodeError, error, input) }
        }
    }

    func testNodeIDHashVector() throws {
        let v = try vectors()
        let id = try NodeID(hex: v["test_pubkey"] as! String)
        XCTAssertEqual(TestVectors.hexString(id.hash), v["test_pubkey_node_id_computed_here"] as? String)
    }

    func testNodeIDForms() throws {
        let key = PrivateKey.generate().publicKey
        let id = NodeID(publicKey: key)
        XCTAssertEqual(id.bytes, key.raw64)
        XCTAssertEqual(id.hex.count, 128)
        XCTAssertEqual(try NodeID(hex: id.hex), id)
        XCTAssertEqual(try NodeID(hex: id.hex.uppercased()), id)
        XCTAssertEqual(try NodeID(bytes: key.raw64), id)
        XCTAssertThrowsError(try NodeID(bytes: key.uncompressed65)) { XCTAssertEqual($0 as? EnodeError, .nodeIDWrongLength(130)) }
    }

    func testPrintingAndParsingAgree() throws {
        let id = NodeID(publicKey: PrivateKey.generate().publicKey)
        let cases: [EnodeURL] = [
            EnodeURL(nodeID: id, ip: IPAddress("10.0.0.1"), tcpPort: 30303),
            EnodeURL(nodeID: id, ip: IPAddress("10.0.0.1"), tcpPort: 30303, udpPort: 30301),
            EnodeURL(nodeID: id, ip: IPAddress("2001:db8::1"), tcpPort: 1),
            EnodeURL(nodeID: id, ip: nil, tcpPort: 0),
        ]
        for url in cases {
            XCTAssertEqual(try EnodeURL(parsing: url.description), url, url.description)
        }
        XCTAssertEqual(cases[1].description, "enode://\(id.hex)@10.0.0.1:30303?discport=30301")
        XCTAssertEqual(cases[2].description, "enode://\(id.hex)@[2001:db8::1]:1")
    }

    func testLenientButGoCompatibleForms() throws {
        let id = NodeID(publicKey: PrivateKey.generate().publicKey)
        // Scheme case and other query parameters are accepted, as Go's net/url does.
        let url = try EnodeURL(parsing: "ENODE://\(id.hex)@127.0.0.1:5?foo=bar&discport=6")
        XCTAssertEqual(url.udpPort, 6)
        XCTAssertEqual(url.tcpPort, 5)
        // An IPv4-mapped IPv6 literal is stored (and printed) as IPv4, like Go's To4().
        let mapped = try EnodeURL(parsing: "enode://\(id.hex)@[::ffff:127.0.0.1]:5")
        XCTAssertEqual(mapped.ip, IPAddress("127.0.0.1"))
        XCTAssertEqual(mapped.description, "enode://\(id.hex)@127.0.0.1:5")
    }

    func testIPAddress() {
        XCTAssertEqual(IPAddress("127.0.0.1")?.bytes, [127, 0, 0, 1])
        XCTAssertEqual(IPAddress("::")?.bytes, [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(IPAddress("2001:DB8:0:0:0:0:0:1")?.description, "2001:db8::1")
        XCTAssertNil(IPAddress("256.0.0.1"))
        XCTAssertNil(IPAddress("example.com"))
        XCTAssertNil(IPAddress(bytes: [1, 2, 3]))
        XCTAssertEqual(IPAddress(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4])?.bytes, [1, 2, 3, 4])
    }
}
