import Enode
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP re-reads the config file: a bad file is refused and the running limits stay; a good
/// one applies new limits to the next peers at once. systemd hears RELOADING=1, then READY=1.
final class RulesReloadTests: XCTestCase {
    static func config(maxPeers: Int, extra: String = "") -> String {
        "[workers]\ncount = \(TestConfig.workers)\n[peers]\nno_dial = true\nmax_peers = \(maxPeers)\n\(extra)"
    }

    func testSighupRefusesABadFileAndAppliesAGoodOne() throws {
        let socketDir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-notify-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: socketDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: socketDir) }
        let notify = try NotifySocket(directory: socketDir)

        let daemon = try DaemonProcess(["run"], config: Self.config(maxPeers: 1), environment: ["NOTIFY_SOCKET": notify.path])
        defer { daemon.stop() }
        try daemon.waitReady()
        XCTAssertTrue(notify.collect(until: ["READY=1"], timeout: 10).flatMap(\.fields).contains("READY=1"))
        let enode = try EnodeURL(parsing: daemon.enode())
        let configFile = daemon.stateDir.appendingPathComponent("stockade.toml")

        let first = PeerAdmission.attempt(enode)
        XCTAssertNotNil(first.link, "\(first)\n\(daemon.stderr)")
        XCTAssertEqual(PeerAdmission.attempt(enode).reason, .tooManyPeers, daemon.stderr)

        // A bad file: every issue logged with line and key, the running limits kept.
        try Data(Self.config(maxPeers: 3, extra: "max_peerz = 4\nnetrestrict = [\"10/8\"]\n").utf8).write(to: configFile)
        daemon.signal(SIGHUP)
        XCTAssertTrue(daemon.waitForLog("reload refused, keeping the running config: "), daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains("line 6: peers.max_peerz: unknown key"), daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains("line 7: peers.netrestrict: element 0: not a CIDR network: 10/8"), daemon.stderr)
        XCTAssertEqual(try Self.reloadNotifications(notify), ["RELOADING=1", "READY=1"])
        XCTAssertEqual(PeerAdmission.attempt(enode).reason, .tooManyPeers, "the old limit holds:\n\(daemon.stderr)")
        XCTAssertNotNil(try daemon.status(), "still serving the control socket")

        // A good file: the new limit applies to the next peers, the connected one stays.
        try Data(Self.config(maxPeers: 3).utf8).write(to: configFile)
        daemon.signal(SIGHUP)
        XCTAssertTrue(daemon.waitForLog("reloaded \(configFile.path): peers, timeouts and streams applied"), daemon.stderr)
        XCTAssertEqual(try Self.reloadNotifications(notify), ["RELOADING=1", "READY=1"])
        let more = (0..<2).map { _ in PeerAdmission.attempt(enode) }
        for m in more { XCTAssertNotNil(m.link, "\(m)\n\(daemon.stderr)") }
        XCTAssertEqual(PeerAdmission.attempt(enode).reason, .tooManyPeers, "three of three:\n\(daemon.stderr)")
        XCTAssertNoThrow(try first.link?.ping(timeout: .seconds(5)), "the first peer survived both reloads")
        XCTAssertEqual(daemon.count("peer dropped:"), 0, daemon.stderr)
        XCTAssertFalse(daemon.stderr.contains("not applied until restart"), "nothing waited: \(daemon.stderr)")

        // What a reload cannot apply is named, not silently ignored (issue 11).
        try Data(("[node]\nname = \"renamed/1.0\"\n" + Self.config(maxPeers: 3).replacingOccurrences(of: "count = \(TestConfig.workers)", with: "count = 3")).utf8)
            .write(to: configFile)
        daemon.signal(SIGHUP)
        XCTAssertTrue(daemon.waitForLog("not applied until restart: node.name, workers"), daemon.stderr)
        withExtendedLifetime((first, more)) {}
    }

    /// Flags override the file at start (RunCommand's order: defaults, file, flags), and still do
    /// after a reload: --max-peers 1 holds though the reloaded file says nothing of max_peers.
    func testCommandLineLimitsOutliveAReload() throws {
        let daemon = try DaemonProcess(["run", "--no-dial", "--max-peers", "1"], config: "[workers]\ncount = \(TestConfig.workers)\n")
        defer { daemon.stop() }
        try daemon.waitReady()
        let enode = try EnodeURL(parsing: daemon.enode())
        let first = PeerAdmission.attempt(enode)
        XCTAssertNotNil(first.link, "\(first)\n\(daemon.stderr)")
        XCTAssertEqual(PeerAdmission.attempt(enode).reason, .tooManyPeers, daemon.stderr)

        daemon.signal(SIGHUP)
        XCTAssertTrue(daemon.waitForLog("reloaded "), daemon.stderr)
        XCTAssertEqual(PeerAdmission.attempt(enode).reason, .tooManyPeers, "the flag's limit was lost on reload:\n\(daemon.stderr)")
        withExtendedLifetime(first) {}
    }

    /// RELOADING=1 and READY=1 in the order received, other fields (STATUS=, MONOTONIC_USEC=) left out.
    static func reloadNotifications(_ notify: NotifySocket) throws -> [String] {
        let fields = notify.collect(until: ["RELOADING=1", "READY=1"], timeout: 10).flatMap(\.fields)
        return fields.filter { $0 == "RELOADING=1" || $0 == "READY=1" }
    }
}
