import Enode
import Foundation
import PeerLink
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, fault 9: silent connections from many source addresses, faster than the handshake
/// deadline frees slots, no longer keep honest peers out.
final class SilentFloodTests: XCTestCase {
    func testHonestPeersGetInDuringASilentFloodFromManyNetworks() throws {
        // Loopback is LAN: throttle_lan applies the Internet rules to it (and the throttle
        // itself is turned off, as penalties are, so that only the slot rules act).
        let config = TestConfig.toml() + "[peers]\nthrottle_lan = true\ninbound_throttle_ms = 0\npenalties = false\n"
        let daemon = try DaemonProcess.ready(for: self, config: config)
        let enode = try EnodeURL(parsing: daemon.enode())
        let address = try XCTUnwrap(SocketAddress(ip: "127.0.0.1", port: enode.tcpPort))

        let started = Date()
        let flood = SilentFlood(to: address, perSecond: 100, seconds: 30)
        sleep(2)   // let the flood take the slots first
        let honest = LockedCounter()
        let honestDone = LockedCounter()
        for _ in 0..<20 {
            Thread.detachNewThread {
                let end = Date().addingTimeInterval(20)
                while Date() < end {
                    if let link = try? TestPeer.dial(enode, timeout: .seconds(5)), (try? link.ping(timeout: .seconds(5))) != nil {
                        link.disconnect(.requested)
                        honest.add()
                        break
                    }
                    usleep(100_000)
                }
                honestDone.add()
            }
        }
        let end = Date().addingTimeInterval(40)
        while honestDone.value < 20 && Date() < end { usleep(100_000) }
        let rate = Double(flood.opened) / Date().timeIntervalSince(started)
        flood.stop()
        // 10 silent connections a second held every slot before (50 slots, 5 s deadline).
        XCTAssertGreaterThan(rate, 40, "the flood was too weak to mean anything")
        XCTAssertGreaterThanOrEqual(honest.value, 15, "honest peers let in during the flood (of 20); \(flood.opened) silent connections")
        XCTAssertTrue(daemon.stderr.contains("(MaxStartups)") || daemon.stderr.contains("max_pending_per_network"), "no early drop logged")
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}

/// Connections that never send a byte, from 127.N.x.y addresses over 40 /24 networks, opened at
/// a steady rate on a thread of their own; each is closed by us after 8 s at the latest.
final class SilentFlood: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private var count = 0

    init(to address: SocketAddress, perSecond: Int, seconds: Int) {
        Thread.detachNewThread { [self] in
            var open: [(Date, RawConnection)] = []
            let end = Date().addingTimeInterval(TimeInterval(seconds))
            var i = 0
            while lock.withLock({ running }) && Date() < end {
                let source = "127.\(10 + i % 40).\((i / 40) % 250 + 1).\(i % 200 + 2)"
                i += 1
                if let c = try? RawConnection(to: address, from: source, timeoutMilliseconds: 200) {
                    open.append((Date(), c))
                    lock.withLock { count += 1 }
                }
                open.removeAll { Date().timeIntervalSince($0.0) > 8 }
                usleep(UInt32(1_000_000 / perSecond))
            }
            open.removeAll()
        }
    }

    var opened: Int { lock.withLock { count } }
    func stop() { lock.withLock { running = false } }
}
