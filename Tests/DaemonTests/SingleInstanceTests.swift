import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, fault 13: one identity, one state directory, one control socket per running node.
final class SingleInstanceTests: XCTestCase {
    func testSecondDaemonOnTheSameStateDirectoryIsRefused() throws {
        let first = try DaemonProcess.ready(for: self)
        try refused(Self.sharingStateDirectory(of: first), saying: "is in use by another running stockade (pid \(first.pid))", first: first)
    }

    func testSecondDaemonOnALiveControlSocketIsRefused() throws {
        let first = try DaemonProcess.ready(for: self)
        // Its own state directory, but the first daemon's (default) control socket by name.
        try refused(DaemonProcess(["run", "--control-socket", first.controlSocket], config: TestConfig.toml()),
                    saying: "is served by a running daemon", first: first)
    }

    func testSecondDaemonWithTheSameExplicitKeyIsRefused() throws {
        let key = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-key-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: key) }
        let made = try DaemonProcess.stockade(["keygen", "--out", key.path])
        XCTAssertEqual(made.status, 0, "\(made)")
        let first = try DaemonProcess.ready(for: self, ["run", "--key", key.path])
        try refused(DaemonProcess(["run", "--key", key.path], config: TestConfig.toml()),
                    saying: "node key \(key.path) is in use by another running stockade", first: first)
    }

    /// A stale socket (its daemon killed with SIGKILL) is no obstacle: the next daemon takes
    /// the path, and the lock died with its holder.
    func testStaleSocketAndLockOfAKilledDaemonAreTakenOver() throws {
        let first = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { first.stop() }
        try first.waitReady()
        let kids = first.children().map(\.pid)
        kill(first.pid, SIGKILL)
        XCTAssertNotNil(first.waitExit(timeout: 10))
        for k in kids { kill(k, SIGKILL) }
        let second = try Self.sharingStateDirectory(of: first)
        defer { second.stop() }
        second.logOnFailure(of: self)
        try second.waitReady()
        XCTAssertEqual(try first.control(["status"]).status, 0)
    }

    /// A second `stockade run` on `first`'s state directory (and so its default control socket).
    static func sharingStateDirectory(of first: DaemonProcess) throws -> DaemonProcess {
        try DaemonProcess(executable: DaemonProcess.binary) { _ in
            ["run", "--state-dir", first.stateDir.path, "--listen", "127.0.0.1:0", "--workers", "\(TestConfig.workers)"]
        }
    }

    /// `second` must exit non-zero saying `message`, without ever being ready, and `first` must
    /// be untouched.
    private func refused(_ second: DaemonProcess, saying message: String, first: DaemonProcess) throws {
        defer { second.stop() }
        let status = second.waitExit(timeout: 20)
        XCTAssertNotNil(status, "a second daemon runs beside the first")
        XCTAssertNotEqual(status, 0)
        // The exit can be seen before the last of stderr is collected.
        XCTAssertTrue(second.waitForLog(message, timeout: 5), second.stderr)
        XCTAssertFalse(second.stderr.contains("ready:"), second.stderr)
        // The first is untouched: its socket is still there and still its own.
        XCTAssertTrue(FileManager.default.fileExists(atPath: first.controlSocket))
        let answer = try first.control(["enode"])
        XCTAssertEqual(answer.status, 0, "\(answer)")
        XCTAssertEqual(answer.stdout.trimmingCharacters(in: .whitespacesAndNewlines), try first.enode())
    }
}
