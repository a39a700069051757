import NodeConfig
import XCTest

/// IP:port literals, CIDR networks (NetRestrict, penalty_exempt) and go-ethereum's LAN ranges.
final class AddressTests: XCTestCase {
    func testHostPortLiterals() {
        XCTAssertEqual(HostPort.parse("127.0.0.1:30303"), HostPort(ip: "127.0.0.1", port: 30303))
        XCTAssertEqual(HostPort.parse("[::1]:0"), HostPort(ip: "::1", port: 0))
        XCTAssertEqual(HostPort.parse("[2001:db8::7]:65535")?.description, "[2001:db8::7]:65535")
        XCTAssertEqual(HostPort.parse("10.0.0.1:1")?.description, "10.0.0.1:1")
        XCTAssertEqual(HostPort.parse("[::1]:1")?.isIPv6, true)
    }

    func testHostPortRefusals() {
        for bad in ["localhost:30303", "::1:30303", "127.0.0.1", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:",
                    "[::1]30303", "[::1", "1.2.3:4", ":30303", "", "[127.0.0.1]x:1"] {
            XCTAssertNil(HostPort.parse(bad), bad)
        }
    }

    func testCIDRContains() throws {
        let ten = try XCTUnwrap(CIDR(parsing: "10.0.0.0/8"))
        XCTAssertTrue(ten.contains(ip: "10.0.0.0"))
        XCTAssertTrue(ten.contains(ip: "10.255.255.255"))
        XCTAssertFalse(ten.contains(ip: "11.0.0.0"))
        XCTAssertFalse(ten.contains(ip: "9.255.255.255"))
        XCTAssertTrue(ten.contains(ip: "::ffff:10.1.2.3"), "an IPv4-mapped IPv6 address")
        XCTAssertFalse(ten.contains(ip: "::a01:203"), "an IPv6 address with the same low bytes is not mapped")
        XCTAssertFalse(ten.contains(ip: "not an ip"))

        let odd = try XCTUnwrap(CIDR(parsing: "192.168.4.0/22"))
        XCTAssertTrue(odd.contains(ip: "192.168.7.255"))
        XCTAssertFalse(odd.contains(ip: "192.168.8.0"))

        let v6 = try XCTUnwrap(CIDR(parsing: "2001:db8::/32"))
        XCTAssertTrue(v6.contains(ip: "2001:db8:ffff::1"))
        XCTAssertFalse(v6.contains(ip: "2001:db9::1"))
        XCTAssertFalse(v6.contains(ip: "10.0.0.1"))

        XCTAssertTrue(try XCTUnwrap(CIDR(parsing: "0.0.0.0/0")).contains(ip: "203.0.113.9"))
        XCTAssertTrue(try XCTUnwrap(CIDR(parsing: "127.0.0.1/32")).contains(ip: "127.0.0.1"))
        XCTAssertFalse(try XCTUnwrap(CIDR(parsing: "127.0.0.1/32")).contains(ip: "127.0.0.2"))
    }

    func testCIDRIsNormalisedToItsNetwork() {
        XCTAssertEqual(CIDR(parsing: "10.1.2.3/8")?.description, "10.0.0.0/8")
        XCTAssertEqual(CIDR(parsing: "192.168.5.77/22")?.description, "192.168.4.0/22")
        XCTAssertEqual(CIDR(parsing: "fe80::1234/10")?.description, "fe80::/10")
        XCTAssertEqual(CIDR(parsing: "::1/128")?.description, "::1/128")
    }

    func testCIDRRefusals() {
        for bad in ["10.0.0.0", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0/8", "localhost/8", "/8", "10.0.0.0/",
                    "10.0.0.0/x"] {
            XCTAssertNil(CIDR(parsing: bad), bad)
        }
    }

    func testLANAddressesAreGoEthereumsIsLAN() {
        for lan in ["127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.1", "169.254.1.1", "0.1.2.3",
                    "::1", "fe80::1", "fd00::5", "fc00::1"] {
            XCTAssertTrue(LANAddresses.contains(lan), lan)
        }
        for wan in ["8.8.8.8", "172.32.0.1", "172.15.255.255", "192.169.0.1", "203.0.113.1", "2001:db8::1", "::2"] {
            XCTAssertFalse(LANAddresses.contains(wan), wan)
        }
    }
}

/// What the roles are told: go-ethereum's derived limits and the resolved paths.
final class DerivedSettingsTests: XCTestCase {
    func config(maxPeers: Int, dialRatio: Int = 3, noDial: Bool = false) throws -> NodeConfig {
        try NodeConfig.parse("[peers]\nmax_peers = \(maxPeers)\ndial_ratio = \(dialRatio)\nno_dial = \(noDial)\n")
    }

    func testDialedShareAndInboundLimit() throws {
        // go-ethereum's maxDialedConns = MaxPeers / DialRatio (at least 1), inbound = the rest.
        let d = try config(maxPeers: 50)
        XCTAssertEqual(d.maxDialedPeers, 16)
        XCTAssertEqual(d.maxInboundPeers, 34)
        let small = try config(maxPeers: 2)
        XCTAssertEqual(small.maxDialedPeers, 1, "at least one dial")
        XCTAssertEqual(small.maxInboundPeers, 1)
        let ratio1 = try config(maxPeers: 10, dialRatio: 1)
        XCTAssertEqual(ratio1.maxDialedPeers, 10)
        XCTAssertEqual(ratio1.maxInboundPeers, 0)
        let noDial = try config(maxPeers: 10, noDial: true)
        XCTAssertEqual(noDial.maxDialedPeers, 0, "NoDial")
        XCTAssertEqual(noDial.maxInboundPeers, 10)
    }

    func testPeerManagerSettingsCarryTheLimits() throws {
        let c = try config(maxPeers: 9)
        let s = PeerManagerSettings(nodeIDHex: "ab", config: c)
        XCTAssertEqual(s.maxPeers, 9)
        XCTAssertEqual(s.maxDialed, 3)
        XCTAssertEqual(s.maxInbound, 6)
        let json = RoleSettingsCoding.encode(s)
        XCTAssertEqual(try RoleSettingsCoding.decode(PeerManagerSettings.self, from: json), s)
    }

    func testAcceptorKeepsTrustedSlotsOnlyWithTrustedAddresses() throws {
        let c = try NodeConfig.parse("[peers]\ntrusted_pending_slots = 4\n")
        XCTAssertEqual(AcceptorSettings(config: c, trustedAddresses: []).trustedPendingSlots, 0)
        XCTAssertEqual(AcceptorSettings(config: c, trustedAddresses: ["192.0.2.1"]).trustedPendingSlots, 4)
    }

    func testResolvedPaths() throws {
        let c = try NodeConfig.parse("[node]\nstate_dir = \"/tmp/s\"\n")
        XCTAssertEqual(c.resolvedKeyFile, "/tmp/s/nodekey")
        XCTAssertEqual(c.resolvedControlSocket, "/tmp/s/control.sock")
        let d = try NodeConfig.parse("[node]\nstate_dir = \"/tmp/s\"\nkey_file = \"/k\"\n[control]\nsocket = \"/c.sock\"\n")
        XCTAssertEqual(d.resolvedKeyFile, "/k")
        XCTAssertEqual(d.resolvedControlSocket, "/c.sock")
    }

    func testWorkerCount() throws {
        XCTAssertEqual(try NodeConfig.parse("[workers]\ncount = 3\n").resolvedWorkerCount(cores: 16), 3)
        XCTAssertEqual(NodeConfig.defaults.resolvedWorkerCount(cores: 8), 8)
        XCTAssertEqual(NodeConfig.defaults.resolvedWorkerCount(cores: 1), 2, "at least two")
    }
}
