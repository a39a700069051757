import Enode
import NodeConfig
import Secp256k1
import Foundation
import XCTest

/// The streams tables: [mux], [services], [[allow]], [[deny]], [socks5], [[forward]].
final class StreamsConfigTests: XCTestCase {
    /// A fixed node ID in lowercase hex (a real curve point, from private key 7).
    static let id = Hex.encode(try! PrivateKey(bytes: [UInt8](repeating: 0, count: 31) + [7]).publicKey.raw64)
    var id: String { Self.id }

    func testDefaults() throws {
        let d = NodeConfig.defaults
        XCTAssertEqual(d.mux, NodeConfig.Mux.standard, "the embedded [mux] is Mux.standard")
        XCTAssertEqual(d.socks5, NodeConfig.Socks5(listen: "", defaultExit: ""), "SOCKS5 is off by default")
        XCTAssertEqual(d.services, [:])
        XCTAssertEqual(d.allow, [], "nothing is allowed by default")
        XCTAssertEqual(d.deny, [])
        XCTAssertEqual(d.forwards, [])
        XCTAssertTrue(NodeConfig.defaultTOML.contains("[mux]\n"))
    }

    /// README.md repeats the embedded default config verbatim, so the documented defaults are the real ones.
    func testReadmeRepeatsTheDefaultConfig() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try XCTUnwrap(text.range(of: "```toml\n# Stockade node configuration."))
        let end = try XCTUnwrap(text.range(of: "\n```\n", range: start.upperBound..<text.endIndex))
        XCTAssertEqual(String(text[text.index(start.lowerBound, offsetBy: 8)..<end.lowerBound]), NodeConfig.defaultTOML)
    }

    func testMux() throws {
        let c = try NodeConfig.parse("""
        [mux]
        max_sessions_per_peer = 10
        max_pending_opens = 5
        max_session_window = 262144
        max_peer_buffer = 1048576
        max_total_buffer = 1048576
        connect_timeout_ms = 100
        open_timeout_ms = 600000
        """)
        XCTAssertEqual(c.mux, NodeConfig.Mux(maxSessionsPerPeer: 10, maxPendingOpens: 5, maxSessionWindow: 262_144, maxPeerBuffer: 1 << 20,
                                             maxTotalBuffer: 1 << 20, connectTimeoutMs: 100, openTimeoutMs: 600_000))
        XCTAssertEqual(try NodeConfig.parse("[mux]\nmax_sessions_per_peer = 7\n").mux.maxPendingOpens, 256, "others keep their defaults")
    }

    func testMuxRanges() {
        let found = issues("""
        [mux]
        max_sessions_per_peer = 0
        max_pending_opens = 65537
        max_session_window = 262143
        max_peer_buffer = 1048575
        connect_timeout_ms = 99
        open_timeout_ms = 600001
        colour = 1
        """)
        XCTAssertEqual(found.map(\.description), [
            "line 2: mux.max_sessions_per_peer: must be in 1...65536, got 0",
            "line 3: mux.max_pending_opens: must be in 1...65536, got 65537",
            "line 4: mux.max_session_window: must be in 262144...1073741824, got 262143",
            "line 5: mux.max_peer_buffer: must be in 1048576...68719476736, got 1048575",
            "line 6: mux.connect_timeout_ms: must be in 100...600000, got 99",
            "line 7: mux.open_timeout_ms: must be in 100...600000, got 600001",
            "line 8: mux.colour: unknown key (known: connect_timeout_ms, max_peer_buffer, max_pending_opens, max_session_window, "
                + "max_sessions_per_peer, max_total_buffer, open_timeout_ms, udp_idle_timeout_ms)",
        ])
    }

    func testMuxBuffersAcrossKeys() {
        let found = issues("[mux]\nmax_peer_buffer = 2097152\nmax_total_buffer = 1048576\nmax_session_window = 4194304\n")
        XCTAssertEqual(found.map(\.key), ["mux.max_total_buffer", "mux.max_session_window"])
        XCTAssertEqual(found.map(\.line), [3, 4])
    }

    func testServices() throws {
        let c = try NodeConfig.parse("""
        [services]
        web = "127.0.0.1:8080"
        db-1 = "[fd00::5]:5432"
        api_v2 = "API.internal.:443"
        """)
        XCTAssertEqual(c.services, ["web": "127.0.0.1:8080", "db-1": "[fd00::5]:5432", "api_v2": "API.internal.:443"])
        let found = issues("""
        [services]
        Web = "127.0.0.1:8080"
        ok = "127.0.0.1"
        v6 = "fd00::5:80"
        zero = "10.0.0.1:0"
        big = "10.0.0.1:65536"
        num = 5
        "-x" = "a.example:1"
        bad = "a b:80"
        """)
        XCTAssertEqual(found.map(\.key), ["services.Web", "services.ok", "services.v6", "services.zero", "services.big", "services.num",
                                          "services.-x", "services.bad"])
        XCTAssertEqual(found.map(\.line), [2, 3, 4, 5, 6, 7, 8, 9])
        XCTAssertEqual(issues("services = 1\n").map(\.description), ["line 1: services: must be a table of name = \"host:port\""])
    }

    func testAllowAndDeny() throws {
        let c = try NodeConfig.parse("""
        [services]
        web = "127.0.0.1:8080"

        [[allow]]
        peers = ["\(id.uppercased())", "trusted"]
        targets = ["web", "10.0.0.0/8:80", "[fd00::/8]:1000-2000", "example.com:*", "0x7f.1:22"]

        [[allow]]
        peers = ["enode://\(id)@127.0.0.1:30303"]
        targets = ["[::1]:443"]

        [[deny]]
        targets = ["127.0.0.0/8:*"]
        """)
        XCTAssertEqual(c.allow, [
            NodeConfig.ExitRule(peers: [id, "trusted"], targets: ["web", "10.0.0.0/8:80", "[fd00::/8]:1000-2000", "example.com:*", "0x7f.1:22"]),
            NodeConfig.ExitRule(peers: [id], targets: ["[::1]:443"]),
        ], "node IDs are stored as 128 lowercase hex digits, targets as written")
        XCTAssertEqual(c.deny, [NodeConfig.ExitRule(peers: [], targets: ["127.0.0.0/8:*"])], "a deny rule without peers is for everyone")
    }

    func testRuleErrorsHaveTheirTableAndLine() {
        let found = issues("""
        [services]
        web = "127.0.0.1:8080"

        [[allow]]
        targets = ["web"]

        [[allow]]
        peers = []
        targets = ["web"]

        [[allow]]
        peers = ["someone", "trusted"]
        targets = ["wbe", "10.0.0.0/33:80", "10.0.0.1:0", "10.0.0.1:90-80", "[10.0.0.1]:80", "::1:80", "a b:80"]
        colour = "red"

        [[deny]]
        peers = ["trusted"]

        [[deny]]
        targets = []
        """)
        XCTAssertEqual(found.map(\.description), [
            "line 4: allow[0].peers: missing (an allow rule names the peers it allows)",
            "line 8: allow[1].peers: must not be empty (an allow rule names the peers it allows)",
            "line 12: allow[2].peers: element 0: not \"trusted\", a node ID (128 hex digits) or an enode URL: "
                + "\(EnodeError.missingScheme): someone",
            "line 13: allow[2].targets: element 0: no service \"wbe\" in [services]",
            "line 13: allow[2].targets: element 1: not a CIDR network (IPv6 in brackets): 10.0.0.0/33:80",
            "line 13: allow[2].targets: element 2: port must be 1...65535, lo-hi or *: 10.0.0.1:0",
            "line 13: allow[2].targets: element 3: port must be 1...65535, lo-hi or *: 10.0.0.1:90-80",
            "line 13: allow[2].targets: element 4: not an IP address, network or DNS name: [10.0.0.1]:80",
            "line 13: allow[2].targets: element 5: not a service name ([a-z0-9][a-z0-9_-]{0,62}) or host:port (IPv6 in brackets): ::1:80",
            "line 13: allow[2].targets: element 6: not an IP address, network or DNS name: a b:80",
            "line 14: allow[2].colour: unknown key (known: peers, targets)",
            "line 16: deny[0].targets: missing (a rule names its targets)",
            "line 20: deny[1].targets: must not be empty (a rule names its targets)",
        ])
    }

    func testAllowMustBeAnArrayOfTables() {
        let found = issues("[allow]\npeers = [\"trusted\"]\ntargets = [\"10.0.0.1:80\"]\n")
        XCTAssertEqual(found.map(\.description), ["line 1: allow: must be an array of tables ([[allow]])"])
    }

    func testSocks5() throws {
        let c = try NodeConfig.parse("[socks5]\nlisten = \"127.0.0.1:1080\"\ndefault_exit = \"enode://\(id)@10.0.0.1:30303\"\n")
        XCTAssertEqual(c.socks5, NodeConfig.Socks5(listen: "127.0.0.1:1080", defaultExit: id), "the enode URL's node ID is stored")
        XCTAssertEqual(try NodeConfig.parse("[socks5]\ndefault_exit = \"\(id.uppercased())\"\n").socks5.defaultExit, id)
        let found = issues("[socks5]\nlisten = \"localhost:1080\"\ndefault_exit = \"abc\"\nauth = true\n")
        XCTAssertEqual(found.map(\.key), ["socks5.listen", "socks5.default_exit", "socks5.auth"])
        XCTAssertEqual(found.map(\.line), [2, 3, 4])
    }

    func testForwards() throws {
        let c = try NodeConfig.parse("""
        [[forward]]
        listen = "127.0.0.1:8080"
        peer = "enode://\(id)@10.0.0.1:30303"
        target = "web"

        [[forward]]
        listen = "[::1]:5432"
        peer = "\(id)"
        target = "db.internal:5432"
        """)
        XCTAssertEqual(c.forwards, [
            NodeConfig.Forward(listen: "127.0.0.1:8080", peer: id, target: "web"),
            NodeConfig.Forward(listen: "[::1]:5432", peer: id, target: "db.internal:5432"),
        ])
    }

    func testForwardErrors() {
        let found = issues("""
        [socks5]
        listen = "127.0.0.1:1080"

        [[forward]]
        listen = "127.0.0.1:8080"
        peer = "\(id)"
        target = "web"

        [[forward]]
        listen = "127.0.0.1:8080"
        peer = "\(id)"
        target = "Web Server"

        [[forward]]
        listen = "127.0.0.1:1080"
        target = "10.0.0.1:0"
        peer = "0011"

        [[forward]]
        listen = "[0::1]:9"
        peer = "\(id)"
        target = "[::1]:9"

        [[forward]]
        listen = "[::1]:9"
        peer = "\(id)"
        target = "x:9"
        """)
        XCTAssertEqual(found.map(\.key), ["forward[1].listen", "forward[1].target", "forward[2].listen", "forward[2].target",
                                          "forward[2].peer", "forward[4].listen"])
        XCTAssertEqual(found.map(\.line), [10, 12, 15, 16, 17, 25])
        XCTAssertEqual(found.first?.message, "127.0.0.1:8080 is already the listen address of forward[0]")
        XCTAssertEqual(found[2].message, "127.0.0.1:1080 is already the listen address of socks5.listen")
        XCTAssertEqual(found.last?.message, "[::1]:9 is already the listen address of forward[3]", "the same address, written another way")

        let missing = issues("[[forward]]\nlisten = \"127.0.0.1:1\"\n")
        XCTAssertEqual(missing.map(\.description), ["line 1: forward[0].peer: missing (a forward needs it)",
                                                    "line 1: forward[0].target: missing (a forward needs it)"])
    }

    func testOverABaseTheTablesReplace() throws {
        let base = try NodeConfig.parse("[services]\nweb = \"127.0.0.1:80\"\n[[allow]]\npeers = [\"trusted\"]\ntargets = [\"web\"]\n")
        let c = try NodeConfig.parse("[services]\napi = \"127.0.0.1:81\"\nweb = \"127.0.0.1:82\"\n", over: base)
        XCTAssertEqual(c.services, ["api": "127.0.0.1:81", "web": "127.0.0.1:82"], "a [services] table replaces the base's")
        XCTAssertEqual(c.allow, base.allow, "rules not written keep the base's")
        // The base's rules are checked against the new services: "web" is gone.
        do {
            _ = try NodeConfig.parse("[services]\napi = \"127.0.0.1:81\"\n", over: base)
            XCTFail("a rule naming a removed service was accepted")
        } catch {
            XCTAssertEqual(error.issues.map(\.description), ["allow[0].targets: element 0: no service \"web\" in [services]"])
        }
    }

    func testUnknownTableNamesTheStreamsTables() {
        let found = issues("[forwards]\n")
        XCTAssertEqual(found.first?.message, "unknown table or key (known tables: node, peers, workers, timeouts, control, metrics, "
                        + "mux, services, [[allow]], [[deny]], socks5, [[forward]])")
    }
}
