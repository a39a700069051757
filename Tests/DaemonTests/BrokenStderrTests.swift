import Enode
import Foundation
import PeerLink
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, fault 14: a log write never takes a process down, whatever stderr is.
final class BrokenStderrTests: XCTestCase {
    /// `stockade run … 2>&1 | head -1`: the reader leaves after the enode line.
    func testReaderGoneAfterTheFirstLine() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: state) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        p.arguments = ["run", "--state-dir", state.path, "--listen", "127.0.0.1:0", "--workers", "\(TestConfig.workers)"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        // head -1: read the first line, then close the only read end.
        var first = Data()
        while !first.contains(0x0a) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            first += chunk
        }
        try pipe.fileHandleForReading.close()
        XCTAssertFalse(first.isEmpty, "nothing printed")
        let control = state.appendingPathComponent("control.sock").path
        try survivesLogging(pid: p.processIdentifier, enode: nil, control: control)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "died by signal \(p.terminationStatus)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: state.appendingPathComponent("control.sock").path), "stale control socket")
    }

    /// stderr a pipe that nobody reads: once it is full, log lines are dropped, not waited on.
    func testFullStderrPipeNeverBlocks() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: state) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        p.arguments = ["run", "--state-dir", state.path, "--listen", "127.0.0.1:0", "--workers", "\(TestConfig.workers)"]
        let unread = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = unread
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let control = state.appendingPathComponent("control.sock").path
        // Every handshake logs a few lines; 64 KiB of pipe fill up within a few hundred.
        try survivesLogging(pid: p.processIdentifier, enode: nil, control: control, peers: 400)
        withExtendedLifetime(unread) {}
    }

    /// `stockade run … 2>&-`: no stderr at all.
    func testClosedStderr() throws {
        let daemon = try DaemonProcess(executable: "/bin/sh") { state in
            ["-c", "exec \"$0\" run --state-dir \"$1\" --listen 127.0.0.1:0 --workers \(TestConfig.workers) 2>&-", DaemonProcess.binary, state.path]
        }
        defer { daemon.stop() }
        let enode = try EnodeURL(parsing: daemon.enode())
        try survivesLogging(pid: daemon.pid, enode: enode, control: daemon.controlSocket)
        kill(daemon.pid, SIGTERM)
        XCTAssertNotNil(daemon.waitExit(timeout: 15))
        XCTAssertEqual(daemon.process.terminationReason, .exit, "died by signal \(daemon.process.terminationStatus)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: daemon.controlSocket), "stale control socket")
    }

    /// Peers come and go (each a few log lines in the supervisor and the peer manager); every
    /// process stays up and the control socket answers.
    private func survivesLogging(pid: Int32, enode given: EnodeURL?, control: String, peers: Int = 3) throws {
        var ready = false
        for _ in 0..<100 where !ready {
            ready = (try? DaemonProcess.stockade(["status", "--control-socket", control]))?.status == 0
            if !ready { usleep(200_000) }
        }
        XCTAssertTrue(ready, "the control socket never answered")
        let enode = try given ?? EnodeURL(parsing: DaemonProcess.stockade(["enode", "--control-socket", control]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines))
        let before = ProcessTable.children(of: pid).map(\.pid).sorted()
        for _ in 0..<peers {
            let link = try TestPeer.dial(enode, timeout: .seconds(15))
            _ = try link.ping(timeout: .seconds(5))
            link.disconnect(.requested)
        }
        sleep(1)
        XCTAssertEqual(ProcessTable.state(pid).map { $0 != "Z" }, true, "the supervisor died")
        XCTAssertEqual(ProcessTable.children(of: pid).map(\.pid).sorted(), before, "a child died")
        let status = try DaemonProcess.stockade(["status", "--control-socket", control])
        XCTAssertEqual(status.status, 0, "\(status)")
    }
}
