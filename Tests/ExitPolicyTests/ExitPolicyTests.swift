import Enode
import ExitPolicy
import NodeConfig
import Secp256k1
import XCTest

/// The exit's allowlist: default deny, deny beats allow, ports, peer scoping, services, names
/// and the check of resolved addresses that stops DNS rebinding.
final class ExitPolicyTests: XCTestCase {
    /// Fixed node IDs (real curve points, from private keys 1, 2 and 3).
    static func node(_ n: UInt8) -> [UInt8] {
        let key = try! PrivateKey(bytes: [UInt8](repeating: 0, count: 31) + [n])
        return key.publicKey.raw64
    }
    let alice = ExitPolicyTests.node(1)
    let bob = ExitPolicyTests.node(2)
    let carol = ExitPolicyTests.node(3)
    var aliceHex: String { Hex.encode(alice) }
    var bobHex: String { Hex.encode(bob) }

    func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    func policy(services: [String: String] = [:], allow: [([String], [String])], deny: [([String], [String])] = [],
                file: StaticString = #filePath, line: UInt = #line) -> ExitPolicy {
        do {
            return try ExitPolicy(services: services, allow: allow.map { NodeConfig.ExitRule(peers: $0.0, targets: $0.1) },
                                  deny: deny.map { NodeConfig.ExitRule(peers: $0.0, targets: $0.1) })
        } catch {
            XCTFail("policy refused: \(error)", file: file, line: line)
            return .denyAll
        }
    }

    func isDeny(_ d: ExitDecision) -> Bool { if case .deny = d { return true } else { return false } }
    func reason(_ d: ExitDecision) -> String { if case .deny(let why) = d { return why } else { return "" } }

    // MARK: addresses

    func testDefaultDeny() {
        XCTAssertTrue(ExitPolicy.denyAll.isEmpty)
        let d = ExitPolicy.denyAll.decide(peer: alice, trusted: true, target: .address(ip("10.0.0.1"), 80))
        XCTAssertEqual(reason(d), "peer \(aliceHex.prefix(16)): no allow rule matches 10.0.0.1:80")
        let p = policy(allow: [([aliceHex], ["10.0.0.1:80"])])
        XCTAssertFalse(p.isEmpty)
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("10.0.0.2"), 80))), "another address")
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("10.0.0.1"), 81))), "another port")
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .address(ip("10.0.0.1"), 80)), .connect(ip("10.0.0.1"), 80))
    }

    func testDenyBeatsAllow() {
        let p = policy(allow: [([aliceHex], ["127.0.0.0/8:*", "10.0.0.0/8:*"])], deny: [([], ["10.0.0.0/8:1-1023"]), ([], ["127.0.0.1:22"])])
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .address(ip("10.1.2.3"), 8080)), .connect(ip("10.1.2.3"), 8080))
        XCTAssertEqual(reason(p.decide(peer: alice, trusted: false, target: .address(ip("10.1.2.3"), 443))),
                       "peer \(aliceHex.prefix(16)): 10.1.2.3:443 refused by deny[0] 10.0.0.0/8:1-1023")
        XCTAssertEqual(reason(p.decide(peer: alice, trusted: false, target: .address(ip("127.0.0.1"), 22))),
                       "peer \(aliceHex.prefix(16)): 127.0.0.1:22 refused by deny[1] 127.0.0.1:22")
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .address(ip("127.0.0.1"), 23)), .connect(ip("127.0.0.1"), 23))
    }

    func testCanonicalFormsMeetTheDenyRules() {
        // Each disguise of loopback must hit the deny rule, not slip past it to the allow-all.
        let p = policy(allow: [([aliceHex], ["0.0.0.0/0:*", "[::/0]:*"])], deny: [([], ["127.0.0.0/8:*", "[::1]:*"])])
        for host in ["127.1", "0x7f000001", "2130706433", "::ffff:127.0.0.1", "::ffff:7f00:1", "0.0.0.0", "::", "LOCALHOST.",
                     "a.localhost", "0177.0.0.1"] {
            let target = ExitTarget.from(host: host, port: 80)!
            XCTAssertTrue(reason(p.decide(peer: alice, trusted: false, target: target)).contains("refused by deny["), host)
            // The same disguise given as a name (as a client might put it) is decided as the address.
            XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .name(host, 80))), host)
        }
        // An address built directly (not via `from`) is canonicalized too.
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("::ffff:127.0.0.1"), 80))))
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("0.0.0.0"), 80))))
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("::"), 80))))
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .address(ip("::ffff:10.0.0.1"), 80)), .connect(ip("10.0.0.1"), 80))
    }

    func testPortRangesAndStar() {
        let p = policy(allow: [([aliceHex], ["10.0.0.1:8000-8080", "10.0.0.2:*", "10.0.0.3:443"])])
        for (host, port, ok) in [("10.0.0.1", 8000, true), ("10.0.0.1", 8080, true), ("10.0.0.1", 7999, false), ("10.0.0.1", 8081, false),
                                 ("10.0.0.2", 1, true), ("10.0.0.2", 65535, true), ("10.0.0.3", 443, true), ("10.0.0.3", 444, false)] {
            let d = p.decide(peer: alice, trusted: false, target: .address(ip(host), UInt16(port)))
            XCTAssertEqual(d == .connect(ip(host), UInt16(port)), ok, "\(host):\(port) \(d)")
        }
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("10.0.0.2"), 0))), "port 0 is never a target")
    }

    func testIPv6Networks() {
        let p = policy(allow: [([aliceHex], ["[fd00::/8]:80", "[2001:db8::5]:443"])], deny: [([], ["[fd00:dead::/32]:*"])])
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .address(ip("fd12::1"), 80)), .connect(ip("fd12::1"), 80))
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("fe00::1"), 80))))
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("fd00:dead::1"), 80))))
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .address(ip("2001:db8::5"), 443)), .connect(ip("2001:db8::5"), 443))
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("2001:db8::6"), 443))))
        // An IPv4 address, mapped or not, never matches an IPv6 network: mapped is IPv4.
        XCTAssertTrue(isDeny(policy(allow: [([aliceHex], ["[::/0]:*"])])
            .decide(peer: alice, trusted: false, target: .address(ip("::ffff:10.0.0.1"), 80))))
    }

    // MARK: peers

    func testRulesApplyOnlyToTheirPeers() {
        let p = policy(allow: [([aliceHex], ["10.0.0.1:80"]), (["enode://\(bobHex)@127.0.0.1:30303"], ["10.0.0.2:80"])],
                       deny: [([bobHex], ["10.0.0.1:80"])])
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .address(ip("10.0.0.1"), 80)), .connect(ip("10.0.0.1"), 80))
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("10.0.0.2"), 80))), "bob's rule")
        XCTAssertEqual(p.decide(peer: bob, trusted: false, target: .address(ip("10.0.0.2"), 80)), .connect(ip("10.0.0.2"), 80),
                       "an enode URL in peers names its node ID")
        XCTAssertTrue(isDeny(p.decide(peer: carol, trusted: true, target: .address(ip("10.0.0.1"), 80))))
        XCTAssertTrue(isDeny(p.decide(peer: carol, trusted: true, target: .address(ip("10.0.0.2"), 80))))
    }

    func testTrusted() {
        let p = policy(allow: [(["trusted"], ["10.0.0.1:80"])], deny: [(["trusted"], ["10.0.0.1:81"])])
        XCTAssertEqual(p.decide(peer: carol, trusted: true, target: .address(ip("10.0.0.1"), 80)), .connect(ip("10.0.0.1"), 80))
        XCTAssertTrue(isDeny(p.decide(peer: carol, trusted: false, target: .address(ip("10.0.0.1"), 80))))
        // A deny rule scoped to trusted peers does not touch others; one with no peers touches all.
        let q = policy(allow: [([aliceHex, "trusted"], ["10.0.0.1:*"])], deny: [(["trusted"], ["10.0.0.1:81"])])
        XCTAssertEqual(q.decide(peer: alice, trusted: false, target: .address(ip("10.0.0.1"), 81)), .connect(ip("10.0.0.1"), 81))
        XCTAssertTrue(isDeny(q.decide(peer: alice, trusted: true, target: .address(ip("10.0.0.1"), 81))))
    }

    // MARK: services

    func testServices() {
        let p = policy(services: ["web": "127.0.0.1:8080", "db": "10.0.0.9:5432", "api": "API.internal.:443"],
                       allow: [([aliceHex], ["web", "db", "api"]), ([bobHex], ["web"])], deny: [([bobHex], ["db"])])
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .service("web")), .connect(ip("127.0.0.1"), 8080))
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .service("api")),
                       .resolve(name: "api.internal", port: 443, allowedByName: true))
        XCTAssertEqual(p.decide(peer: bob, trusted: false, target: .service("web")), .connect(ip("127.0.0.1"), 8080))
        XCTAssertEqual(reason(p.decide(peer: bob, trusted: false, target: .service("api"))),
                       "peer \(bobHex.prefix(16)): no allow rule matches service api (api.internal:443)")
        XCTAssertEqual(reason(p.decide(peer: alice, trusted: false, target: .service("nope"))),
                       "peer \(aliceHex.prefix(16)): no such service \"nope\"")
        // Allowing the service does not allow its address by address.
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .address(ip("127.0.0.1"), 8080))))
    }

    func testServicePointingAtADeniedAddressIsDenied() {
        let p = policy(services: ["admin": "localhost:9000", "web": "10.0.0.1:80", "meta": "metadata.example:80"],
                       allow: [([aliceHex], ["admin", "web", "meta"])],
                       deny: [([], ["127.0.0.0/8:*"]), ([], ["metadata.example:*"])])
        XCTAssertEqual(reason(p.decide(peer: alice, trusted: false, target: .service("admin"))),
                       "peer \(aliceHex.prefix(16)): service admin (127.0.0.1:9000) refused by deny[0] 127.0.0.0/8:*")
        XCTAssertEqual(reason(p.decide(peer: alice, trusted: false, target: .service("meta"))),
                       "peer \(aliceHex.prefix(16)): service meta (metadata.example:80) refused by deny[1] metadata.example:*")
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .service("web")), .connect(ip("10.0.0.1"), 80))
    }

    // MARK: names and rebinding

    func testNames() {
        let p = policy(allow: [([aliceHex], ["Example.COM.:443", "10.0.0.0/8:80"])], deny: [([], ["evil.example:*"])])
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .name("example.com", 443)),
                       .resolve(name: "example.com", port: 443, allowedByName: true), "rule names compare canonically")
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .name("EXAMPLE.com.", 443)),
                       .resolve(name: "example.com", port: 443, allowedByName: true))
        XCTAssertEqual(p.decide(peer: alice, trusted: false, target: .name("other.example", 80)),
                       .resolve(name: "other.example", port: 80, allowedByName: false), "only a 10/8 address may come of it")
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .name("other.example", 443))), "no rule for port 443 but the name's")
        XCTAssertTrue(isDeny(p.decide(peer: alice, trusted: false, target: .name("evil.example", 80))))
        XCTAssertTrue(isDeny(p.decide(peer: bob, trusted: false, target: .name("example.com", 443))))
        XCTAssertTrue(reason(p.decide(peer: alice, trusted: false, target: .name("a b", 80))).contains("not a valid host name"))
    }

    func testRebindingAdmitsOnlyCheckedAddresses() {
        let p = policy(allow: [([aliceHex], ["10.0.0.0/8:80", "api.example:443"])], deny: [([], ["127.0.0.0/8:*", "10.9.0.0/16:*"])])
        // Not allowed by name: each address must be allowed by IP; loopback is denied.
        XCTAssertEqual(p.admit(peer: alice, trusted: false, name: "rebind.example", port: 80,
                               resolved: [ip("127.0.0.1"), ip("10.0.0.7"), ip("192.0.2.1")], allowedByName: false), [ip("10.0.0.7")])
        // Allowed by name: any address but a denied one, in the resolver's order, canonical, once.
        XCTAssertEqual(p.admit(peer: alice, trusted: false, name: "api.example", port: 443,
                               resolved: [ip("::ffff:192.0.2.1"), ip("0.0.0.0"), ip("10.9.1.1"), ip("192.0.2.1"), ip("2001:db8::1")],
                               allowedByName: true), [ip("192.0.2.1"), ip("2001:db8::1")])
        // A wrong allowedByName flag does not widen anything: the name is not allowed at port 80.
        XCTAssertEqual(p.admit(peer: alice, trusted: false, name: "other.example", port: 80,
                               resolved: [ip("192.0.2.1"), ip("10.0.0.8")], allowedByName: true), [ip("10.0.0.8")])
        // Nor for another peer.
        XCTAssertEqual(p.admit(peer: bob, trusted: false, name: "api.example", port: 443, resolved: [ip("192.0.2.1")], allowedByName: true), [])
    }

    func testAdmitForAServiceName() {
        let p = policy(services: ["api": "api.internal:8443"], allow: [([aliceHex], ["api"])], deny: [([], ["169.254.0.0/16:*"])])
        guard case .resolve(let name, let port, let byName) = p.decide(peer: alice, trusted: false, target: .service("api")) else {
            return XCTFail("a service at a DNS name is resolved")
        }
        XCTAssertEqual(p.admit(peer: alice, trusted: false, name: name, port: port,
                               resolved: [ip("169.254.169.254"), ip("10.1.1.1")], allowedByName: byName), [ip("10.1.1.1")])
    }

    // MARK: construction

    func testConstructionRefusesWhatTheParserRefuses() {
        func keys(_ services: [String: String], _ allow: [NodeConfig.ExitRule], _ deny: [NodeConfig.ExitRule]) -> [String] {
            do { _ = try ExitPolicy(services: services, allow: allow, deny: deny); return [] } catch { return error.issues.map(\.key) }
        }
        XCTAssertEqual(keys(["Web": "127.0.0.1:80"], [], []), ["services.Web"])
        XCTAssertEqual(keys(["web": "127.0.0.1"], [], []), ["services.web"])
        let web = ["web": "127.0.0.1:80"]
        XCTAssertEqual(keys(web, [.init(peers: [], targets: ["web"])], []), ["allow[0].peers"])
        XCTAssertEqual(keys(web, [.init(peers: ["nobody"], targets: ["web"])], []), ["allow[0].peers"])
        XCTAssertEqual(keys(web, [.init(peers: ["trusted"], targets: ["10.0.0.1:0"])], []), ["allow[0].targets"])
        XCTAssertEqual(keys(web, [.init(peers: ["trusted"], targets: ["wbe"])], []), ["allow[0].targets"], "a misspelt service")
        XCTAssertEqual(keys(web, [], [.init(peers: [], targets: [])]), ["deny[0].targets"])
        XCTAssertEqual(keys(web, [.init(peers: ["trusted"], targets: ["web"])], [.init(peers: [], targets: ["::1:80"])]), ["deny[0].targets"])
        XCTAssertEqual(keys(web, [.init(peers: ["trusted", aliceHex.uppercased()], targets: ["web", "[::1]:80"])],
                            [.init(peers: [], targets: ["10.0.0.0/8:1-1023"])]), [], "a valid policy")
    }
}
