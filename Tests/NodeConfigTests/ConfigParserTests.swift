import NodeConfig
import TestVectors
import XCTest

/// The TOML config parser: unknown keys are errors, values are type- and range-checked, and
/// every issue is reported at once with its line and dotted key.
final class ConfigParserTests: XCTestCase {
    /// A valid enode URL (the published test key of go-ethereum's urlv4_test.go, via enode-urls.json).
    static var validEnode: String {
        get throws {
            let vectors = try XCTUnwrap(TestVectors.json("enode-urls.json") as? [String: Any])
            return "enode://\(try XCTUnwrap(vectors["test_pubkey"] as? String))@127.0.0.1:30303"
        }
    }

    func testDefaultsAreTheDocumentedValues() throws {
        let d = NodeConfig.defaults
        XCTAssertEqual(try NodeConfig.parse(""), d, "an empty file is the defaults")
        XCTAssertEqual(try NodeConfig.parse(NodeConfig.defaultTOML), d, "the printed template is the defaults")
        XCTAssertEqual(d.peers.maxPeers, 50)
        XCTAssertEqual(d.peers.maxPending, 50)
        XCTAssertEqual(d.peers.dialRatio, 3)
        XCTAssertEqual(d.peers.inboundThrottleMs, 30_000, "go-ethereum's inboundThrottleTime")
        XCTAssertFalse(d.peers.throttleLAN)
        XCTAssertTrue(d.peers.penalties)
        XCTAssertEqual(d.workers.handshakeTimeoutMs, 5000, "go-ethereum's handshakeTimeout")
        XCTAssertEqual(d.timeouts.pingIntervalMs, 15_000)
        XCTAssertEqual(d.timeouts.readTimeoutMs, 30_000)
        XCTAssertEqual(d.metrics.listen, "", "metrics are off by default")
    }

    func testValuesOverrideTheDefaults() throws {
        let c = try NodeConfig.parse("""
        [peers]
        max_peers = 7
        no_dial = true
        static = ["\(try Self.validEnode)"]
        netrestrict = ["10.0.0.0/8", "fd00::/8"]
        [metrics]
        listen = "127.0.0.1:9464"
        """)
        XCTAssertEqual(c.peers.maxPeers, 7)
        XCTAssertTrue(c.peers.noDial)
        XCTAssertEqual(c.peers.static, [try Self.validEnode])
        XCTAssertEqual(c.peers.netrestrict, ["10.0.0.0/8", "fd00::/8"])
        XCTAssertEqual(c.metrics.listen, "127.0.0.1:9464")
        XCTAssertEqual(c.peers.maxPending, NodeConfig.defaults.peers.maxPending, "untouched keys keep their defaults")
    }

    func testParseOverABaseKeepsTheBase() throws {
        let base = try NodeConfig.parse("[peers]\nmax_peers = 7\n")
        let c = try NodeConfig.parse("[peers]\nmax_pending = 9\n", over: base)
        XCTAssertEqual(c.peers.maxPeers, 7)
        XCTAssertEqual(c.peers.maxPending, 9)
    }

    // MARK: one issue each

    func testUnknownKeyIsAnErrorWithItsLine() {
        let found = issues("""
        # a comment

        [peers]
        max_peers = 5
        maxpeers = 3
        """)
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertEqual(found.first?.line, 5)
        XCTAssertEqual(found.first?.key, "peers.maxpeers")
        XCTAssertTrue(found.first?.description.hasPrefix("line 5: peers.maxpeers: unknown key") == true, found.first?.description ?? "")
    }

    func testKeyInTheWrongTableIsUnknownThere() {
        let found = issues("[node]\nname = \"x\"\nmax_peers = 3\n")
        XCTAssertEqual(found.map(\.key), ["node.max_peers"])
        XCTAssertEqual(found.first?.line, 3)
    }

    func testUnknownTableAndTopLevelKeyAreErrors() {
        let found = issues("verbose = true\n[peer]\nmax_peers = 3\n")
        XCTAssertEqual(Set(found.map(\.key)), ["verbose", "peer"])
        XCTAssertEqual(found.first { $0.key == "verbose" }?.line, 1)
        XCTAssertEqual(found.first { $0.key == "peer" }?.line, 2)
    }

    func testWrongTypes() {
        let found = issues("""
        [peers]
        max_peers = "ten"
        no_dial = 1
        static = "enode://x"
        netrestrict = [10]
        [node]
        name = 5
        """)
        let byKey = Dictionary(found.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byKey["peers.max_peers"]?.message, "must be an integer")
        XCTAssertEqual(byKey["peers.max_peers"]?.line, 2)
        XCTAssertEqual(byKey["peers.no_dial"]?.message, "must be true or false")
        XCTAssertEqual(byKey["peers.static"]?.message, "must be an array of strings")
        XCTAssertEqual(byKey["peers.netrestrict"]?.message, "element 0 must be a string")
        XCTAssertEqual(byKey["node.name"]?.message, "must be a string")
        XCTAssertEqual(byKey["node.name"]?.line, 7)
        XCTAssertEqual(found.count, 5, "\(found)")
    }

    func testOutOfRange() {
        let found = issues("[peers]\nmax_pending = 0\ndial_ratio = 1001\n[workers]\ncount = 65\n")
        XCTAssertEqual(found.map(\.description), [
            "line 2: peers.max_pending: must be in 1...10000, got 0",
            "line 3: peers.dial_ratio: must be in 1...1000, got 1001",
            "line 5: workers.count: must be in 0...64, got 65",
        ])
    }

    /// `[node] link_threads`: 0 means one link loop per core; out of range is a config error.
    func testLinkThreads() throws {
        XCTAssertEqual(issues("[node]\nlink_threads = 257\n").map(\.description), ["line 2: node.link_threads: must be in 0...256, got 257"])
        XCTAssertEqual(issues("[node]\nlink_threads = -1\n").map(\.description), ["line 2: node.link_threads: must be in 0...256, got -1"])
        XCTAssertEqual(NodeConfig.defaults.node.linkThreads, 0)
        XCTAssertEqual(NodeConfig.defaults.resolvedLinkThreads(cores: 8), 8)
        let two = try NodeConfig.parse("[node]\nlink_threads = 2\n", over: NodeConfig.defaults)
        XCTAssertEqual(two.resolvedLinkThreads(cores: 8), 2)
        XCTAssertEqual(PeerManagerSettings(nodeIDHex: "", config: two).linkThreads, 2)
    }

    func testBadCIDRs() {
        let found = issues("[peers]\nnetrestrict = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\npenalty_exempt = [\"localhost\"]\n")
        XCTAssertEqual(found.map(\.description), [
            "line 2: peers.netrestrict: element 1: not a CIDR network: 10.0.0.0/33",
            "line 3: peers.penalty_exempt: element 0: not a CIDR network: localhost",
        ])
    }

    func testBadAddresses() {
        let found = issues("[node]\nlisten = [\"localhost:30303\"]\n[metrics]\nlisten = \"127.0.0.1\"\n")
        XCTAssertEqual(found.map(\.key), ["node.listen", "metrics.listen"])
        XCTAssertEqual(found.map(\.line), [2, 4])
    }

    func testRulesAcrossKeys() {
        let found = issues("""
        [peers]
        max_pending = 4
        trusted_pending_slots = 4
        trusted = ["\((try? Self.validEnode) ?? "")"]
        [timeouts]
        ping_interval_ms = 30000
        read_timeout_ms = 30000
        """)
        XCTAssertEqual(Set(found.map(\.key)), ["peers.trusted_pending_slots", "timeouts.ping_interval_ms"])
        XCTAssertEqual(found.first { $0.key == "timeouts.ping_interval_ms" }?.line, 6)
    }

    func testInvalidTOMLIsReportedWithItsLine() {
        let found = issues("[peers]\nmax_peers = 3\nstatic = [\"a\"\n")
        XCTAssertEqual(found.count, 1)
        XCTAssertTrue(found.first?.message.hasPrefix("not valid TOML") == true, "\(found)")
        XCTAssertNotNil(found.first?.line)
    }

    // MARK: everything at once

    func testEveryErrorIsReportedAtOnceInLineOrder() {
        let found = issues("""
        [node]
        name = ""
        colour = "blue"
        [peers]
        max_peers = -1
        static = ["enode://nope"]
        netrestrict = ["300.0.0.0/8"]
        throttle_lan = "yes"
        [workers]
        handshake_timeout_ms = 5
        [extra]
        """)
        XCTAssertEqual(found.map(\.key), ["node.name", "node.colour", "peers.max_peers", "peers.static", "peers.netrestrict",
                                          "peers.throttle_lan", "workers.handshake_timeout_ms", "extra"])
        XCTAssertEqual(found.map(\.line), [2, 3, 5, 6, 7, 8, 10, 11])
    }

    // MARK: enode URLs (enode-urls.json)

    func testEnodeURLsAreCheckedAsURLs() throws {
        let vectors = try XCTUnwrap(TestVectors.json("enode-urls.json") as? [String: Any])
        let cases = try XCTUnwrap(vectors["enode_cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 15)
        var checked = 0
        for c in cases {
            let input = try XCTUnwrap(c["input"] as? String)
            let valid = try XCTUnwrap(c["valid"] as? Bool)
            let expected = c["expected"] as? [String: Any]
            let complete = valid && (expected?["incomplete"] as? Bool) == false
            let quoted = input.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            for key in ["static", "trusted"] {
                let text = "[peers]\n\(key) = [\"\(quoted)\"]\n"
                // Config files want the enode:// form; a static node must also say where to dial.
                let acceptable = input.hasPrefix("enode://") && valid && (key == "trusted" || complete)
                if acceptable {
                    XCTAssertNoThrow(try NodeConfig.parse(text), "\(key): \(input)")
                } else {
                    let found = issues(text)
                    XCTAssertEqual(found.map(\.key), ["peers.\(key)"], "\(key): \(input)")
                    XCTAssertEqual(found.first?.line, 2)
                }
                checked += 1
            }
        }
        XCTAssertEqual(checked, 30)
    }
}

/// Issue 11: edge cases get every error, clearly.
final class ConfigEdgeCaseTests: XCTestCase {
    func testEveryDuplicatedKeyAndTableIsReported() {
        let text = "[node]\nname = \"a\"\nname = \"b\"\n[peers]\nmax_peers = 1\n[peers]\nmax_peers = 2\nmax_peers = 3\n[[allow]]\npeers = []\n[[allow]]\npeers = []\n"
        XCTAssertThrowsError(try NodeConfig.parse(text)) { error in
            let lines = (error as? ConfigError)?.issues.map(\.description) ?? []
            XCTAssertEqual(lines, ["line 3: node.name: set again (first on line 2)",
                                   "line 6: peers: table [peers] defined again (first on line 4)",
                                   "line 8: peers.max_peers: set again (first on line 7)"])
        }
    }

    func testLogLevelIsCheckedAndDefaultsToInfo() throws {
        XCTAssertEqual(NodeConfig.defaults.node.logLevel, "info")
        XCTAssertEqual(try NodeConfig.parse("[node]\nlog_level = \"debug\"\n").node.logLevel, "debug")
        XCTAssertThrowsError(try NodeConfig.parse("[node]\nlog_level = \"loud\"\n")) { error in
            XCTAssertTrue("\(error)".contains("node.log_level: must be one of trace, debug, info"), "\(error)")
        }
    }

    func testSocketPathsOverTheUnixLimitAreRefused() {
        let long = "/tmp/" + String(repeating: "d", count: 110)
        XCTAssertThrowsError(try NodeConfig.parse("[control]\nsocket = \"\(long)\"\n")) { error in
            XCTAssertTrue("\(error)".contains("control.socket: the control socket path"), "\(error)")
            XCTAssertTrue("\(error)".contains("107-byte limit"), "\(error)")
        }
        XCTAssertThrowsError(try NodeConfig.parse("[node]\nstate_dir = \"\(long)\"\n")) { error in
            XCTAssertTrue("\(error)".contains("node.state_dir: the control socket path \(long)/control.sock"), "\(error)")
        }
        XCTAssertNoThrow(try NodeConfig.parse("[node]\nstate_dir = \"\(long)\"\n[control]\nsocket = \"/run/s.sock\"\n"))
    }
}
