import Enode
import Foundation
import TestVectors
import XCTest

/// The operator's commands against a running daemon, through the real CLI and control socket:
/// each change takes effect at once, and each refusal says why in the daemon's own words.
final class ControlCommandTests: XCTestCase {
    func testEnodeArgumentsAreCheckedWithClearErrors() throws {
        let daemon = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { daemon.stop() }
        try daemon.waitReady()
        let someone = TestIdentity()

        // Invalid URLs from enode-urls.json, refused with the parser's reason.
        let vectors = try XCTUnwrap(TestVectors.json("enode-urls.json") as? [String: Any])
        let invalid = try XCTUnwrap(vectors["enode_cases"] as? [[String: Any]])
            .filter { ($0["valid"] as? Bool) == false }.compactMap { $0["input"] as? String }.filter { !$0.isEmpty }
        XCTAssertGreaterThanOrEqual(invalid.count, 5)
        let checks = invalid.map { ("add-peer", $0) } + ["remove-peer", "trust", "untrust"].map { ($0, invalid[0]) }
        for (command, url) in checks {
            let r = try daemon.control([command, url])
            XCTAssertNotEqual(r.status, 0, "\(command) \(url): \(r)")
            XCTAssertTrue(r.stderr.contains("not a valid enode URL: enode: "), "\(command) \(url): \(r)")
        }
        let short = try daemon.control(["add-peer", "enode://01010101@123.124.125.126:3"])
        XCTAssertTrue(short.stderr.contains("not a valid enode URL: enode: node ID has 8 hex characters, want 128"), "\(short)")

        // Valid URLs that cannot be dialed: go-ethereum's dial errors.
        let noPort = try daemon.control(["add-peer", "enode://\(someone.nodeID.hex)@127.0.0.1:0"])
        XCTAssertTrue(noPort.stderr.contains("the enode URL has no TCP port (dial error: no port)"), "\(noPort)")
        let noIP = try daemon.control(["add-peer", "enode://\(someone.nodeID.hex)"])
        XCTAssertTrue(noIP.stderr.contains("the enode URL has no IP address"), "\(noIP)")

        // Edits of lists the node is not in.
        let notStatic = try daemon.control(["remove-peer", someone.enode])
        XCTAssertNotEqual(notStatic.status, 0)
        XCTAssertTrue(notStatic.stderr.contains("not a static node: \(someone.shortID)…"), "\(notStatic)")
        let notTrusted = try daemon.control(["untrust", someone.enode])
        XCTAssertNotEqual(notTrusted.status, 0)
        XCTAssertTrue(notTrusted.stderr.contains("not a trusted node: \(someone.shortID)…"), "\(notTrusted)")
        let noPeer = try daemon.control(["disconnect", "0123456789abcdef"])
        XCTAssertNotEqual(noPeer.status, 0)
        XCTAssertTrue(noPeer.stderr.contains("no such peer: 0123456789abcdef"), "\(noPeer)")
        let badReason = try daemon.control(["disconnect", "0123456789abcdef", "--reason", "rude"])
        XCTAssertNotEqual(badReason.status, 0)
        XCTAssertTrue(badReason.stderr.contains("unknown reason rude"), "\(badReason)")

        // Nothing above changed the node.
        let status = try daemon.status()
        XCTAssertEqual(status["static_nodes"] as? Int, 0, "\(status)")
        XCTAssertEqual(status["trusted_nodes"] as? Int, 0, "\(status)")
    }

    /// trust / untrust at run time: a trusted node gets in above MaxPeers at once, and is
    /// limited again as soon as it is untrusted.
    func testTrustAndUntrustTakeEffectAtOnce() throws {
        let daemon = try DaemonProcess(["run", "--no-dial", "--max-peers", "1"], config: TestConfig.toml())
        defer { daemon.stop() }
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        let friend = TestIdentity()

        let filler = PeerAdmission.attempt(enode)
        XCTAssertNotNil(filler.link, "\(filler)\n\(daemon.stderr)")
        XCTAssertEqual(PeerAdmission.attempt(enode, key: friend.key).reason, .tooManyPeers, daemon.stderr)

        let trusted = try daemon.control(["trust", friend.enode])
        XCTAssertEqual(trusted.status, 0, "\(trusted)")
        XCTAssertTrue(trusted.stdout.contains("trusted \(friend.shortID)…"), "\(trusted)")
        let again = try daemon.control(["trust", friend.enode])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("already trusted: \(friend.shortID)…"), "\(again)")

        let counted = try daemon.status { $0["trusted_nodes"] as? Int == 1 }
        XCTAssertEqual(counted["trusted_nodes"] as? Int, 1, "stockade status counts run-time trust: \(counted)")

        let admitted = PeerAdmission.attempt(enode, key: friend.key)
        XCTAssertNotNil(admitted.link, "trusted at run time: \(admitted)\n\(daemon.stderr)")
        let listed = try Self.peers(daemon)
        XCTAssertEqual(listed.first { $0["id"] as? String == friend.nodeID.hex }?["trusted"] as? Bool, true, "\(listed)")
        admitted.link?.disconnect(.requested)
        XCTAssertTrue(daemon.waitForLog("peer dropped: \(friend.shortID)…"), daemon.stderr)

        let untrusted = try daemon.control(["untrust", friend.enode])
        XCTAssertEqual(untrusted.status, 0, "\(untrusted)")
        XCTAssertTrue(untrusted.stdout.contains("no longer trusted: \(friend.shortID)…"), "\(untrusted)")
        XCTAssertEqual(PeerAdmission.attempt(enode, key: friend.key).reason, .tooManyPeers, daemon.stderr)
        let uncounted = try daemon.status { $0["trusted_nodes"] as? Int == 0 }
        XCTAssertEqual(uncounted["trusted_nodes"] as? Int, 0, "\(uncounted)")
        withExtendedLifetime(filler) {}
    }

    /// add-peer dials at once and keeps the node; remove-peer disconnects it and stops dialing;
    /// `stockade events` reports both with reason and who asked; `stockade peers` lists it.
    func testAddPeerRemovePeerPeersAndEvents() throws {
        let a = try DaemonProcess(["run"], config: TestConfig.toml(name: "control-target/1.0"))
        defer { a.stop() }
        try a.waitReady()
        let b = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { b.stop() }
        try b.waitReady()
        let urlA = try a.enode()
        let enodeA = try EnodeURL(parsing: urlA)
        let idA = String(enodeA.nodeID.hex.prefix(16))

        // A subscriber first, so it sees everything that follows. It is known to be subscribed
        // once it printed an event of a probe peer's.
        let probe = TestIdentity()
        let events = try b.subscribeEvents(probe: probe)
        defer { events.stop() }
        let enodeB = try EnodeURL(parsing: b.enode())

        let added = try b.control(["add-peer", urlA])
        XCTAssertEqual(added.status, 0, "\(added)")
        XCTAssertTrue(added.stdout.contains("added as static; dialing 127.0.0.1:\(enodeA.tcpPort)"), "\(added)")
        XCTAssertTrue(b.waitForLog("peer added: \(idA)… outbound"), b.stderr)
        let counted = try b.status { $0["static_nodes"] as? Int == 1 }
        XCTAssertEqual(counted["static_nodes"] as? Int, 1, "stockade status counts run-time static nodes: \(counted)")
        let twice = try b.control(["add-peer", urlA])
        XCTAssertNotEqual(twice.status, 0)
        XCTAssertTrue(twice.stderr.contains("already a static node: \(idA)…"), "\(twice)")

        // peers --json: every field a script may read.
        let before = Date().timeIntervalSince1970
        let peers = try Self.peers(b)
        XCTAssertEqual(peers.count, 1, "\(peers)")
        let p = try XCTUnwrap(peers.first)
        XCTAssertEqual(p["id"] as? String, enodeA.nodeID.hex)
        XCTAssertEqual(p["client_id"] as? String, "control-target/1.0")
        XCTAssertEqual(p["address"] as? String, "127.0.0.1:\(enodeA.tcpPort)")
        XCTAssertEqual(p["direction"] as? String, "outbound")
        XCTAssertEqual(p["static"] as? Bool, true)
        XCTAssertEqual(p["trusted"] as? Bool, false)
        XCTAssertEqual(p["capabilities"] as? [String], ["stk/1"])
        let since = try XCTUnwrap(p["connected_since"] as? Double)
        XCTAssertLessThanOrEqual(since, before)
        XCTAssertGreaterThan(since, before - 60)
        XCTAssertNotNil(p["bytes_in"] as? Int)
        XCTAssertNotNil(p["bytes_out"] as? Int)
        let table = try b.control(["peers"])
        XCTAssertTrue(table.stdout.contains("\(idA)…"), "\(table)")
        XCTAssertTrue(table.stdout.contains("static"), "\(table)")
        XCTAssertTrue(table.stdout.contains("outbound"), "\(table)")

        let removed = try b.control(["remove-peer", urlA])
        XCTAssertEqual(removed.status, 0, "\(removed)")
        XCTAssertTrue(removed.stdout.contains("removed from static nodes and disconnected"), "\(removed)")
        XCTAssertTrue(b.waitForLog("peer dropped: \(idA)… 127.0.0.1:\(enodeA.tcpPort) local: disconnect requested"), b.stderr)
        XCTAssertTrue(a.waitForLog("remote: disconnect requested"), a.stderr)
        XCTAssertEqual(try Self.peers(b).count, 0)
        let uncounted = try b.status { $0["static_nodes"] as? Int == 0 }
        XCTAssertEqual(uncounted["static_nodes"] as? Int, 0, "\(uncounted)")
        let gone = try b.control(["remove-peer", urlA])
        XCTAssertTrue(gone.stderr.contains("not a static node: \(idA)…"), "\(gone)")

        // The subscriber saw A come and go, as JSON lines with the reason and who asked.
        XCTAssertTrue(events.waitFor(10) { out, _ in Self.events(out, id: enodeA.nodeID.hex).count >= 2 }, events.stdout)
        let aEvents = Self.events(events.stdout, id: enodeA.nodeID.hex)
        XCTAssertEqual(aEvents.map { $0["event"] as? String }, ["peer-added", "peer-dropped"], events.stdout)
        let up = try XCTUnwrap(aEvents.first), down = try XCTUnwrap(aEvents.last)
        XCTAssertEqual(up["direction"] as? String, "outbound")
        XCTAssertEqual(up["address"] as? String, "127.0.0.1:\(enodeA.tcpPort)")
        XCTAssertEqual(up["detail"] as? String, "control-target/1.0")
        XCTAssertEqual(down["reason"] as? String, "requested")
        XCTAssertEqual(down["reason_code"] as? Int, 0)
        XCTAssertEqual(down["by"] as? String, "local")
        XCTAssertEqual(down["address"] as? String, "127.0.0.1:\(enodeA.tcpPort)")
        // The probe left by itself: dropped by the remote side.
        let probeDrop = Self.events(events.stdout, id: probe.nodeID.hex).first { $0["event"] as? String == "peer-dropped" }
        XCTAssertEqual(probeDrop?["by"] as? String, "remote", events.stdout)
        XCTAssertEqual(probeDrop?["direction"] as? String, "inbound", events.stdout)

        // A peer refused by a check is a failed handshake with its reason: the same key twice.
        let twin = TestIdentity()
        let twinLink = PeerAdmission.attempt(enodeB, key: twin.key)
        XCTAssertNotNil(twinLink.link, "\(twinLink)")
        XCTAssertEqual(PeerAdmission.attempt(enodeB, key: twin.key).reason, .alreadyConnected)
        XCTAssertTrue(events.waitFor(10) { out, _ in
            Self.events(out, id: twin.nodeID.hex).contains { $0["event"] as? String == "handshake-failed" }
        }, "no handshake-failed event for a refused peer:\n\(events.stdout)")
        let refusal = Self.events(events.stdout, id: twin.nodeID.hex).first { $0["event"] as? String == "handshake-failed" }
        XCTAssertEqual(refusal?["reason"] as? String, "already_connected", events.stdout)
        XCTAssertEqual(refusal?["reason_code"] as? Int, 5, events.stdout)
        XCTAssertEqual(refusal?["direction"] as? String, "inbound", events.stdout)
        XCTAssertTrue((refusal?["address"] as? String)?.hasPrefix("127.0.0.1:") == true, events.stdout)
        twinLink.link?.disconnect(.requested)

        // A static node nobody answers for: its dial fails, reported as handshake-failed.
        let nobody = TestIdentity(), closedPort = try freeLoopbackPort()
        let deadURL = "enode://\(nobody.nodeID.hex)@127.0.0.1:\(closedPort)"
        XCTAssertEqual(try b.control(["add-peer", deadURL]).status, 0)
        XCTAssertTrue(events.waitFor(10) { out, _ in !Self.events(out, id: nobody.nodeID.hex).isEmpty }, events.stdout)
        let failed = Self.events(events.stdout, id: nobody.nodeID.hex).first
        XCTAssertEqual(failed?["event"] as? String, "handshake-failed", events.stdout)
        XCTAssertEqual(failed?["direction"] as? String, "outbound", events.stdout)
        XCTAssertTrue((failed?["detail"] as? String)?.hasPrefix("dial failed: ") == true, events.stdout)
        XCTAssertEqual(try b.control(["remove-peer", deadURL]).status, 0)

        // Removed means not redialed: the static backoff (1 s) passes twice without a new link.
        XCTAssertFalse(b.waitFor(2.5) { _, err in err.components(separatedBy: "peer added: \(idA)").count > 2 }, b.stderr)
    }

    /// go-ethereum's NoDial: nothing is dialed, neither the configured static nodes nor one
    /// added at run time; they are still the node's static list.
    func testNoDialNeverDialsStaticNodes() throws {
        let a = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { a.stop() }
        try a.waitReady()
        let configured = "enode://\(TestIdentity().nodeID.hex)@127.0.0.1:\(try freeLoopbackPort())"
        let b = try DaemonProcess(["run", "--no-dial", "--static", configured], config: TestConfig.toml())
        defer { b.stop() }
        try b.waitReady()

        let added = try b.control(["add-peer", try a.enode()])
        XCTAssertEqual(added.status, 0, "\(added)")
        XCTAssertTrue(added.stdout.contains("added as static, but no_dial is set: it will not be dialed"), "\(added)")
        let status = try b.status { $0["static_nodes"] as? Int == 2 }
        XCTAssertEqual(status["static_nodes"] as? Int, 2, "the configured and the added node: \(status)")
        // Several of the run loop's dial ticks (250 ms) pass: A never hears from B, and the
        // configured node (nothing listens there) is never tried.
        XCTAssertFalse(a.waitFor(2) { _, err in err.contains("peer added:") }, "B dialed A under --no-dial:\n\(a.stderr)")
        XCTAssertFalse(b.stderr.contains("peer added:"), b.stderr)
        XCTAssertFalse(b.stderr.contains("dial failed"), b.stderr)
    }

    func testCheckConfigReportsEveryErrorWithLineAndKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-config-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.toml")
        try Data("""
        [peers]
        max_peers = 10
        maxpeers = 3
        netrestrict = ["10.0.0.0/99"]
        static = ["enode://01010101@127.0.0.1:3"]
        [workers]
        count = "two"
        """.utf8).write(to: bad)
        let r = try DaemonProcess.stockade(["check-config", bad.path])
        XCTAssertNotEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stderr.contains("invalid configuration (4 errors)"), "\(r)")
        for expected in ["\(bad.path): line 3: peers.maxpeers: unknown key",
                         "\(bad.path): line 4: peers.netrestrict: element 0: not a CIDR network: 10.0.0.0/99",
                         "\(bad.path): line 5: peers.static: element 0: ",
                         "\(bad.path): line 7: workers.count: must be an integer"] {
            XCTAssertTrue(r.stderr.contains(expected), "missing \(expected):\n\(r)")
        }

        // The daemon refuses to start on it, with the same words.
        let run = try DaemonProcess.stockade(["run", "--config", bad.path, "--state-dir", dir.appendingPathComponent("state").path,
                                              "--listen", "127.0.0.1:0"])
        XCTAssertNotEqual(run.status, 0, "\(run)")
        XCTAssertTrue(run.stderr.contains("line 3: peers.maxpeers: unknown key"), "\(run)")

        let good = dir.appendingPathComponent("good.toml")
        try Data("[peers]\nmax_peers = 10\nstatic = [\"enode://\(TestIdentity().nodeID.hex)@127.0.0.1:30303\"]\n".utf8).write(to: good)
        let ok = try DaemonProcess.stockade(["check-config", good.path])
        XCTAssertEqual(ok.status, 0, "\(ok)")
        XCTAssertTrue(ok.stdout.contains("OK (1 static, 0 trusted, max_peers 10)"), "\(ok)")

        let missing = try DaemonProcess.stockade(["check-config", dir.appendingPathComponent("none.toml").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("cannot read config file"), "\(missing)")
    }

    // MARK: helpers

    static func peers(_ daemon: DaemonProcess) throws -> [[String: Any]] {
        let r = try daemon.control(["peers", "--json"])
        guard r.status == 0, let list = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] else {
            throw DaemonTestError("stockade peers --json failed: \(r)")
        }
        return list
    }

    /// The `stockade events` lines about node `id`, parsed, in order.
    static func events(_ output: String, id: String) -> [[String: Any]] {
        output.split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["id"] as? String == id }
    }
}
