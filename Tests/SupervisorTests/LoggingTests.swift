#if canImport(Glibc)
import Glibc
#endif
import ChildRuntime
import Foundation
import XCTest
@testable import Supervisor

/// Issue 11: one swift-log handler; journald priorities under systemd, text elsewhere; the
/// periodic summary that stands for the per-connection lines.
final class LoggingTests: XCTestCase {
    func testJournalLinesCarryTheirPriorityAndNoDuplicatedProcessPrefix() {
        let supervisor = StockadeLogHandler(process: "supervisor", level: .info, format: .journal)
        XCTAssertEqual(supervisor.line(level: .info, message: "ready: 4 children up", pid: 7), "<6>ready: 4 children up")
        XCTAssertEqual(supervisor.line(level: .warning, message: "no control socket", pid: 7), "<4>warning: no control socket")
        XCTAssertEqual(supervisor.line(level: .error, message: "x", pid: 7), "<3>error: x")
        XCTAssertEqual(supervisor.line(level: .debug, message: "refused", pid: 7), "<7>debug: refused")
        XCTAssertEqual(supervisor.line(level: .notice, message: "n", pid: 7), "<5>n")
        // The journal attributes every line of the stream to the supervisor: children say who they are.
        let worker = StockadeLogHandler(process: "worker[1]", level: .info, format: .journal)
        XCTAssertEqual(worker.line(level: .info, message: "peer-manager channel closed", pid: 42), "<6>worker[1] [42]: peer-manager channel closed")
        // One entry per line: a message with a newline stays one line.
        XCTAssertEqual(supervisor.line(level: .error, message: "a\nb", pid: 7), "<3>error: a | b")
    }

    func testTextLinesAreReadable() {
        let h = StockadeLogHandler(process: "acceptor", level: .info, format: .text)
        let line = h.line(level: .warning, message: "slow", metadata: ["peer": "ab12"], pid: 9)
        XCTAssertTrue(line.hasSuffix(" stockade acceptor [9]: warning: slow peer=ab12"), line)
        XCTAssertNotNil(line.range(of: #"^\d\d:\d\d:\d\d\.\d\d\d "#, options: .regularExpression), line)
        XCTAssertFalse(line.hasPrefix("<"))
    }

    func testJournalIsDetectedOnlyWhenStderrIsTheNamedStream() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-log-\(UUID().uuidString.prefix(6))").path
        let fd = open(path, O_CREAT | O_RDWR, 0o600)
        defer { close(fd); unlink(path) }
        var st = stat()
        XCTAssertEqual(fstat(fd, &st), 0)
        XCTAssertTrue(StockadeLogHandler.isJournal(fd: fd, environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)"]))
        XCTAssertFalse(StockadeLogHandler.isJournal(fd: fd, environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino + 1)"]))
        XCTAssertFalse(StockadeLogHandler.isJournal(fd: fd, environment: [:]))
        XCTAssertFalse(StockadeLogHandler.isJournal(fd: fd, environment: ["JOURNAL_STREAM": "garbage"]))
    }

    func testSummaryCountsConnectionsByReasonAndIsQuietWhenIdle() {
        var s = LogSummary()
        XCTAssertNil(s.line(counters: [:], seconds: 60), "an idle node logs nothing")
        s.peerAdded()
        s.peerDropped(reason: "too_many_peers", by: "remote")
        let line = s.line(counters: ["acceptor/accepted_total": 800, "acceptor/refused_total": 5, "worker/handshakes_ok_total": 1,
                                     "worker/handshakes_failed_timeout_total": 700, "worker/handshakes_failed_handshake_total": 99,
                                     "worker/handshakes_failed_total": 799, "peer-manager/dials_failed_total": 2], seconds: 60)
        XCTAssertEqual(line, "last 60 s: inbound connections 800 accepted, 5 refused; handshakes 1 ok, 799 failed (timeout 700, handshake 99); "
                           + "dials failed 2; peers 1 added, 1 dropped (too_many_peers (remote) 1)")
    }

    func testMetricsPeriodFeedsTheSummaryOnce() {
        let m = NodeMetrics()
        m.heartbeat(slot: "acceptor", role: "acceptor", counters: ["accepted_total": 3])
        m.heartbeat(slot: "acceptor", role: "acceptor", counters: ["accepted_total": 5])
        XCTAssertEqual(m.takePeriod()["acceptor/accepted_total"], 5)
        XCTAssertEqual(m.takePeriod(), [:])
    }
}
