import Foundation
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, fault 11: local clients can neither lock the control socket nor bloat the
/// supervisor.
final class ControlSocketAbuseTests: XCTestCase {
    /// 32 idle connections and 40 `events` watchers: commands still get through.
    func testIdleConnectionsAndWatchersNeverLockOutCommands() throws {
        let daemon = try DaemonProcess.ready(for: self)
        var held: [Int32] = []
        defer { held.forEach { _ = close($0) } }
        for _ in 0..<32 { held.append(try Self.connect(daemon.controlSocket)) }
        for _ in 0..<40 {
            let fd = try Self.connect(daemon.controlSocket)
            held.append(fd)
            Self.write(fd, Array("{\"command\":\"events\"}\n".utf8))
        }
        usleep(300_000)
        for _ in 0..<3 {
            let status = try daemon.control(["status"], timeout: 10)
            XCTAssertEqual(status.status, 0, "\(status)")
        }
    }

    /// A client that pipelines requests and never reads holds at most one reply's worth.
    func testPipeliningClientThatNeverReadsCannotGrowTheSupervisor() throws {
        let daemon = try DaemonProcess.ready(for: self)
        let before = Self.rssKiB(daemon.pid)
        let fd = try Self.connect(daemon.controlSocket)
        defer { close(fd) }
        TCPSocket.setNonBlocking(fd)
        let request = Array(String(repeating: "{\"command\":\"status\"}\n", count: 200).utf8)
        var written = 0
        let end = Date().addingTimeInterval(4)
        while Date() < end {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { written += n } else { usleep(2_000) }
        }
        let after = Self.rssKiB(daemon.pid)
        XCTAssertLessThan(after - before, 16 * 1024, "supervisor grew from \(before) to \(after) KiB (\(written) bytes of requests taken)")
        // The supervisor stopped reading: far less than 4 s of loopback writes got in.
        XCTAssertLessThan(written, 8 * 1024 * 1024)
        let status = try daemon.control(["status"], timeout: 10)
        XCTAssertEqual(status.status, 0, "\(status)")
    }

    static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw DaemonTestError("connect \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Resident set size from /proc/PID/status, in KiB.
    static func rssKiB(_ pid: Int32) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
