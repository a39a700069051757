import Foundation
import XCTest

/// The children give up what they do not need (ARCHITECTURE.md "Security boundaries"): read from
/// /proc of the real processes.
final class SandboxTests: XCTestCase {
    func statusField(_ pid: Int32, _ name: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    func testChildrenRunWithoutPrivilegesAndWorkersWithoutFileAccess() throws {
        let daemon = try DaemonProcess(["run", "--workers", "2"])
        defer { daemon.stop() }
        try daemon.waitReady()
        // The sandbox is entered on Configure, just after ready; give it a moment.
        XCTAssertTrue(daemon.waitFor(10) { _, err in err.components(separatedBy: "no_new_privs set").count - 1 >= 4 }, daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains("file writes and exec denied (seccomp)"), "the peer manager's filter:\n\(daemon.stderr)")
        let kids = daemon.children()
        XCTAssertEqual(kids.count, 4, "\(kids)")
        for kid in kids {
            XCTAssertEqual(statusField(kid.pid, "NoNewPrivs"), "1", kid.role)
            if getuid() == 0 {
                XCTAssertEqual(statusField(kid.pid, "Uid")?.split(separator: "\t").first.map(String.init), "65534", kid.role)
            }
            // Every child has a seccomp filter (mode 2): workers and the acceptor without files,
            // the peer manager with read-only files.
            XCTAssertEqual(statusField(kid.pid, "Seccomp"), "2", kid.role)
        }
        // The supervisor itself keeps its privileges (it binds sockets and writes the key).
        XCTAssertEqual(statusField(daemon.pid, "Seccomp"), "0")
    }
}
