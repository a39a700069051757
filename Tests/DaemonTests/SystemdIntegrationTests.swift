import Enode
import Foundation
import PeerLink
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The two systemd contracts, driven by systemd's own activation tool and by a notification
/// socket the test binds: the daemon serves on the socket it is given, and tells its state.
final class SystemdIntegrationTests: XCTestCase {
    func testServesOnSocketFromSystemdSocketActivate() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: DaemonProcess.socketActivateTool),
                          "\(DaemonProcess.socketActivateTool) is not installed")
        let port = try freeLoopbackPort()
        let daemon = try DaemonProcess.socketActivated(listen: "127.0.0.1:\(port)")
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        guard let address = SocketAddress(ip: "127.0.0.1", port: port) else { return XCTFail("bad address") }

        // The tool binds first and starts the daemon on the first connection attempt.
        var first = RawConnection.once(listening: address)
        XCTAssertNotNil(first, "systemd-socket-activate never listened on \(port): \(daemon.stderr)")
        first = nil

        let enode = try EnodeURL(parsing: daemon.enode())
        XCTAssertEqual(enode.tcpPort, port, "the daemon must advertise the port it was given")
        try daemon.waitReady()
        XCTAssertTrue(daemon.stderr.contains("socket-activated on 127.0.0.1:\(port)"))

        let link = try TestPeer.dial(enode)
        for _ in 0..<3 { _ = try link.ping(timeout: .seconds(5)) }
        link.disconnect(.requested)
    }

    func testNotifiesReadyStatusWatchdogAndStopping() throws {
        let socketDir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-notify-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: socketDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: socketDir) }
        let notify = try NotifySocket(directory: socketDir)

        let daemon = try DaemonProcess(["run"], config: TestConfig.toml(),
                                       environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"])
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        let received = notify.collect(until: ["READY=1", "STATUS=", "WATCHDOG=1"], timeout: 20)
        let fields = received.flatMap(\.fields)
        XCTAssertTrue(fields.contains("READY=1"), "\(fields)")
        XCTAssertTrue(fields.contains("WATCHDOG=1"), "\(fields)")
        let status = fields.first { $0.hasPrefix("STATUS=") }
        XCTAssertNotNil(status, "\(fields)")
        XCTAssertTrue(status?.contains("workers \(TestConfig.workers)/\(TestConfig.workers) up") == true, "\(fields)")
        // NotifyAccess=main: only the supervisor notifies; the children never got the socket.
        for n in received where n.pid != 0 { XCTAssertEqual(n.pid, daemon.pid, "notification from a child: \(n.fields)") }
        let pids = try XCTUnwrap(daemon.waitForChildren(TestConfig.childCount))
        for (role, pid) in pids {
            let names = ProcessTable.environmentNames(pid) ?? []
            XCTAssertFalse(names.contains("NOTIFY_SOCKET"), "\(role) inherited NOTIFY_SOCKET")
            XCTAssertFalse(names.contains("WATCHDOG_USEC"), "\(role) inherited WATCHDOG_USEC")
        }

        // Watchdog pings keep coming while healthy.
        let more = notify.collect(until: ["WATCHDOG=1"], timeout: 5)
        XCTAssertTrue(more.flatMap(\.fields).contains("WATCHDOG=1"), "no second WATCHDOG=1")

        daemon.signal(SIGTERM)
        let stopping = notify.collect(until: ["STOPPING=1"], timeout: 15)
        XCTAssertTrue(stopping.flatMap(\.fields).contains("STOPPING=1"), "\(stopping.map(\.fields))")
        XCTAssertEqual(daemon.waitExit(timeout: 15), 0)
    }
}
