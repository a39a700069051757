import Enode
import Foundation
import PeerLink
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, fault 8: only a real crash of a worker (a fault signal or abort) counts against the
/// sources that had handshakes in flight on it, as OpenSSH's PerSourcePenalties counts crashes.
/// A SIGKILL (the operator, the OOM killer, the supervisor's own hung-child kill) does not.
final class CrashPenaltyTests: XCTestCase {
    func testSourcesInFlightOnKilledWorkersAreNotPenalised() throws {
        let (refused, log) = try sourceRefusedAfterWorkers(dieBy: SIGKILL)
        XCTAssertFalse(refused, "an innocent source was refused after SIGKILLs:\n\(log)")
        XCTAssertFalse(log.contains("penalised"), log)
    }

    func testSourcesInFlightOnCrashedWorkersArePenalised() throws {
        let (refused, log) = try sourceRefusedAfterWorkers(dieBy: SIGABRT)
        XCTAssertTrue(refused, "a source in flight on two crashes was let in:\n\(log)")
        XCTAssertTrue(log.contains("penalised"), log)
    }

    /// Two silent connections from 127.0.0.5 (one on each worker: the acceptor picks the least
    /// loaded), both workers then die by `signal`; is a third connection from there refused?
    private func sourceRefusedAfterWorkers(dieBy signal: Int32) throws -> (Bool, String) {
        let daemon = try DaemonProcess.ready(for: self, config: RulesAdmissionTests.longHandshakeConfig)
        let enode = try EnodeURL(parsing: daemon.enode())
        let before = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))
        let held = try (0..<2).map { _ in try RawConnection(to: enode, from: "127.0.0.5") }
        try daemon.status(within: 10) { ($0["pending_handshakes"] as? Int) == 2 }
        for w in ["worker[0]", "worker[1]"] { kill(before[w]!, signal) }
        // Swift's crash backtracer takes the first fault signal, fails to exec its helper in the
        // sandbox, and resets the handlers: a real fault then re-executes and dies of it, and a
        // signal sent from outside needs a second delivery to do the same.
        usleep(300_000)
        for w in ["worker[0]", "worker[1]"] where ProcessTable.state(before[w]!) != nil { kill(before[w]!, signal) }
        let after = daemon.waitForChildren(TestConfig.childCount, timeout: 20) {
            $0["worker[0]"] != before["worker[0]"] && $0["worker[1]"] != before["worker[1]"]
        }
        XCTAssertNotNil(after, "the workers were not restarted")
        for c in held { XCTAssertTrue(c.waitClosedByRemote(timeout: 10), "a connection outlived its worker") }
        // Let the acceptor hear how they died (WorkerExited) before the next connection.
        usleep(500_000)
        let probe = try RawConnection(to: enode, from: "127.0.0.5")
        // Refused connections are closed at once; an admitted one waits for its 30 s handshake.
        let refused = probe.waitClosedByRemote(timeout: 3)
        // The acceptor logs its reason just after closing: let the line arrive.
        if refused { daemon.waitForLog("penalised", timeout: 5) }
        return (refused, daemon.stderr)
    }
}
