import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, fault 15: what the operator names explicitly must be there; nothing is silently
/// invented or skipped.
final class ExplicitPathTests: XCTestCase {
    /// A mistyped --key is an error (as go-ethereum's --nodekey), not a new identity.
    func testMissingExplicitKeyFileIsFatal() throws {
        // In an existing directory, where the old daemon happily created it.
        let daemon = try DaemonProcess(executable: DaemonProcess.binary) { state in
            ["run", "--state-dir", state.path, "--listen", "127.0.0.1:0", "--key", state.appendingPathComponent("nodekey.typo").path]
        }
        defer { daemon.stop() }
        let status = daemon.waitExit(timeout: 20)
        XCTAssertNotNil(status, "the daemon runs with a key file that does not exist")
        XCTAssertNotEqual(status, 0)
        // The exit can be seen before the last of stderr is collected.
        XCTAssertTrue(daemon.waitForLog("must exist", timeout: 5), daemon.stderr)
        XCTAssertFalse(daemon.stdout.contains("enode://"), "an identity was made up: \(daemon.stdout)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: daemon.stateDir.appendingPathComponent("nodekey.typo").path))
    }

    /// The default key in the state directory is still created on first run.
    func testDefaultKeyIsCreatedOnFirstRun() throws {
        let daemon = try DaemonProcess.ready(for: self)
        XCTAssertTrue(FileManager.default.fileExists(atPath: daemon.stateDir.appendingPathComponent("nodekey").path))
    }

    /// A control socket asked for by name that cannot be created ends the start, before READY.
    func testExplicitControlSocketThatCannotBeCreatedIsFatal() throws {
        let blocker = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-blocker-\(UUID().uuidString.prefix(6))")
        try Data("a file, not a directory".utf8).write(to: blocker)
        defer { try? FileManager.default.removeItem(at: blocker) }
        let daemon = try DaemonProcess(["run", "--control-socket", blocker.appendingPathComponent("control.sock").path], config: TestConfig.toml())
        defer { daemon.stop() }
        let status = daemon.waitExit(timeout: 20)
        XCTAssertNotNil(status, "the daemon runs without the control socket it was asked for")
        XCTAssertNotEqual(status, 0)
        XCTAssertFalse(daemon.stderr.contains("ready:"), daemon.stderr)
        XCTAssertTrue(daemon.waitForLog("control socket", timeout: 5), daemon.stderr)
    }
}
