import Foundation
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, fault 10: slow and idle clients of the metrics endpoint deny no scrape.
final class MetricsSlowClientTests: XCTestCase {
    func testSlowlorisAndIdleClientsDenyNoScrape() throws {
        let port = try freeLoopbackPort()
        let daemon = try DaemonProcess.ready(for: self, ["run", "--metrics", "127.0.0.1:\(port)"])
        XCTAssertTrue(daemon.waitForLog("metrics on http://127.0.0.1:\(port)/metrics"), daemon.stderr)
        let address = try XCTUnwrap(SocketAddress(ip: "127.0.0.1", port: port))

        // 16 slowloris clients (a header line, then a byte now and then) and 100 silent ones.
        let slow = try (0..<16).map { _ in try RawConnection(to: address) }
        for c in slow { try c.write(Array("GET /metrics HTTP/1.1\r\n".utf8)) }
        let idle = try (0..<100).map { _ in try RawConnection(to: address) }
        let fds = slow.map(\.fd)
        let trickle = Thread { for _ in 0..<8 { for fd in fds { ControlSocketAbuseTests.write(fd, [0x58]) }; usleep(500_000) } }
        trickle.start()

        var served = 0
        for _ in 0..<40 {
            if let r = try? ControlMetricsTests.scrape(port: port, path: "/metrics"), r.head.hasPrefix("HTTP/1.1 200"),
               r.body.contains("stockade_workers_up") { served += 1 }
        }
        XCTAssertEqual(served, 40, "scrapes served while slow clients held connections")
        XCTAssertTrue(try ControlMetricsTests.scrape(port: port, path: "/nope").head.hasPrefix("HTTP/1.1 404"))

        // The request read timeout (5 s) closes both kinds, trickle or not.
        for c in slow + idle { XCTAssertTrue(c.waitClosedByRemote(timeout: 15), "a slow client was kept past the request timeout") }
        withExtendedLifetime(trickle) {}
    }
}
